package deploytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// codeBlock is one fenced block of a Markdown file.
type codeBlock struct {
	lang  string
	line  int // line number of the opening fence
	lines []string
}

// parseMarkdown returns the fenced code blocks and the prose (everything outside them).
func parseMarkdown(text string) ([]codeBlock, string) {
	var blocks []codeBlock
	var prose strings.Builder
	var cur *codeBlock
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		default:
			prose.WriteString(line + "\n")
		}
	}
	return blocks, prose.String()
}

// logicalLines joins backslash continuations, drops comments and blank lines, and takes
// heredocs out (returned by file name: `cat > FILE <<EOF ... EOF`).
func logicalLines(b codeBlock) (lines []string, heredocs map[string]string) {
	heredocs = map[string]string{}
	heredocStart := regexp.MustCompile(`^cat > (\S+) <<'?(\w+)'?$`)
	var cur string
	for i := 0; i < len(b.lines); i++ {
		line := strings.TrimRight(b.lines[i], " \t")
		if m := heredocStart.FindStringSubmatch(strings.TrimSpace(line)); m != nil && cur == "" {
			var body []string
			for i++; i < len(b.lines) && strings.TrimSpace(b.lines[i]) != m[2]; i++ {
				body = append(body, b.lines[i])
			}
			heredocs[m[1]] = strings.Join(body, "\n") + "\n"
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur += strings.TrimSpace(s) + " "
			continue
		}
		full := strings.TrimSpace(cur + strings.TrimSpace(line))
		cur = ""
		if full == "" || strings.HasPrefix(full, "#") {
			continue
		}
		lines = append(lines, full)
	}
	return lines, heredocs
}

// shellWords splits a command line like a shell would, for the subset the walkthrough uses:
// quotes, variable expansion (not inside single quotes), command substitution (its commands are
// returned separately and it expands to CMDSUBST), and the operators | || && ; & ( ) as word
// separators that end a simple command. Comments after an unquoted # are dropped.
func shellWords(line string, expand func(string) string) (cmds [][]string, subst []string, err error) {
	var words []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		flush()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, nil, fmt.Errorf("unterminated ' in %q", line)
			}
			word.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= len(line) {
				return nil, nil, fmt.Errorf("unterminated \" in %q", line)
			}
			inner, s, err := substitute(line[i+1:j], expand)
			if err != nil {
				return nil, nil, err
			}
			subst = append(subst, s...)
			word.WriteString(inner)
			inWord, i = true, j
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			end := matchParen(line, i+1)
			if end < 0 {
				return nil, nil, fmt.Errorf("unterminated $( in %q", line)
			}
			subst = append(subst, line[i+2:end])
			word.WriteString("CMDSUBST")
			inWord, i = true, end
		case c == '$':
			j := i + 1
			if j < len(line) && line[j] == '{' {
				j = i + 2 + strings.IndexByte(line[i+2:], '}') + 1
			} else {
				for j < len(line) && (isNameChar(line[j])) {
					j++
				}
			}
			word.WriteString(expand(line[i:j]))
			inWord, i = true, j-1
		case c == '\\' && i+1 < len(line):
			word.WriteByte(line[i+1])
			inWord, i = true, i+1
		case c == '#' && !inWord:
			endCmd()
			return cmds, subst, nil
		case c == ' ' || c == '\t':
			flush()
		case strings.IndexByte("|&;()", c) >= 0:
			if c == '&' && i > 0 && line[i-1] == '>' { // 2>&1
				word.WriteByte(c)
				continue
			}
			endCmd()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds, subst, nil
}

// substitute expands variables and command substitutions inside a double-quoted string.
func substitute(s string, expand func(string) string) (string, []string, error) {
	var out strings.Builder
	var subst []string
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			out.WriteByte(s[i+1])
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '(':
			end := matchParen(s, i+1)
			if end < 0 {
				return "", nil, fmt.Errorf("unterminated $( in %q", s)
			}
			subst = append(subst, s[i+2:end])
			out.WriteString("CMDSUBST")
			i = end
		case s[i] == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				j = i + 2 + strings.IndexByte(s[i+2:], '}') + 1
			} else {
				for j < len(s) && isNameChar(s[j]) {
					j++
				}
			}
			out.WriteString(expand(s[i:j]))
			i = j - 1
		default:
			out.WriteByte(s[i])
		}
	}
	return out.String(), subst, nil
}

func matchParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		case '\'':
			if j := strings.IndexByte(s[i+1:], '\''); j >= 0 {
				i += j + 1
			}
		}
	}
	return -1
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// flags splits a command's words into flags (name -> values) and positional arguments. Flags in
// valued take the next word unless written --flag=value.
func flags(words []string, valued ...string) (map[string][]string, []string) {
	fl := map[string][]string{}
	var pos []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			pos = append(pos, w)
			continue
		}
		if k, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "--") {
			fl[k] = append(fl[k], v)
			continue
		}
		if slices.Contains(valued, w) && i+1 < len(words) {
			fl[w] = append(fl[w], words[i+1])
			i++
			continue
		}
		fl[w] = append(fl[w], "")
	}
	return fl, pos
}

func TestShellWords(t *testing.T) {
	expand := func(v string) string {
		return map[string]string{"$A": "a", "${B}": "b", "$R": "reg.io"}[v]
	}
	tests := []struct {
		line string
		want [][]string
		sub  []string
	}{
		{`kubectl get pods -l x=y`, [][]string{{"kubectl", "get", "pods", "-l", "x=y"}}, nil},
		{`echo "$A-${B}" '$A' x\ y`, [][]string{{"echo", "a-b", "$A", "x y"}}, nil},
		{`a | b && c; d & (e f) # comment`, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e", "f"}}, nil},
		{`X=$(./gsc info-image i | sed -n 's/^a = "\(x\)"$/\1/p')`, [][]string{{"X=CMDSUBST"}}, []string{`./gsc info-image i | sed -n 's/^a = "\(x\)"$/\1/p'`}},
		{`sed -e "s|a|$R/b|" f 2>&1`, [][]string{{"sed", "-e", "s|a|reg.io/b|", "f", "2>&1"}}, nil},
	}
	for _, tc := range tests {
		got, sub, err := shellWords(tc.line, expand)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(sub) != fmt.Sprint(tc.sub) {
			t.Errorf("shellWords(%s)\n got %q %q\nwant %q %q", tc.line, got, sub, tc.want, tc.sub)
		}
	}
	if _, _, err := shellWords(`echo 'open`, expand); err == nil {
		t.Error("unterminated quote accepted")
	}
}

package quote

import "testing"

// BenchmarkParse measures Parse on the real SGX v3 and TDX v4 vectors (one per connection on the
// server's hot path).
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{vecSGX, vecTDX} {
		vc := vectorCaseByName(b, name)
		raw := vectorBytes(b, vc)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	q, err := Parse(vectorBytes(b, vectorCaseByName(b, vecTDX)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = q.Marshal()
	}
}

func vectorCaseByName(tb testing.TB, name string) vectorCase {
	tb.Helper()
	for _, vc := range vectorCases {
		if vc.name == name {
			return vc
		}
	}
	tb.Fatalf("no vector case %s", name)
	return vectorCase{}
}

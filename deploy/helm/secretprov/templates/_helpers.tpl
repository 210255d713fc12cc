{{/* Chart name, overridable. */}}
{{- define "secretprov.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name: the release name when it already contains the chart name. */}}
{{- define "secretprov.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "secretprov.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "secretprov.labels" -}}
helm.sh/chart: {{ include "secretprov.chart" . }}
app.kubernetes.io/name: {{ include "secretprov.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: secretprov
{{- end -}}

{{/* Selector of the server pods (immutable once deployed). */}}
{{- define "secretprov.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secretprov.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "secretprov.serverLabels" -}}
{{ include "secretprov.labels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "secretprov.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-server" (include "secretprov.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "secretprov.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "secretprov.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{- define "secretprov.secretsName" -}}
{{- default (printf "%s-secrets" (include "secretprov.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "secretprov.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Paths inside the server container. The configuration below refers to them and the Deployment
mounts the volumes there; they are fixed so that both always agree.
*/}}
{{- define "secretprov.paths" -}}
config: /etc/secretprov
tls: /etc/secretprov/tls
secrets: /var/run/secretprov/secrets
cache: /var/cache/secretprov
{{- end -}}

{{/*
The server configuration file (the configuration contract; the server rejects unknown keys).
Rendered as YAML from a dict, so that every value is quoted correctly.
*/}}
{{- define "secretprov.config" -}}
{{- $p := include "secretprov.paths" . | fromYaml -}}
{{- $v := .Values.verifier -}}
{{- $verifier := dict
      "pcs_url" $v.pcs_url
      "tdx_pcs_url" $v.tdx_pcs_url
      "pcs_kind" $v.pcs_kind
      "trust_root" $v.trust_root
      "cache_dir" $p.cache
      "collateral_grace" $v.collateral_grace
      "update" $v.update
      "collateral" $v.collateral
      "prefetch" $v.prefetch
-}}
{{- /* Only when set: a configuration without the key loads in servers that predate it. */ -}}
{{- if $v.early_warning -}}
{{- $_ := set $verifier "early_warning" true -}}
{{- end -}}
{{- $cfg := dict
      "listen" "0.0.0.0:4433"
      "admin_listen" "0.0.0.0:9090"
      "tls" (dict
        "cert" (printf "%s/tls.crt" $p.tls)
        "key" (printf "%s/tls.key" $p.tls)
        "client_ca" "")
      "verifier" $verifier
      "limits" (dict
        "max_connections" .Values.limits.max_connections
        "max_connections_per_ip" .Values.limits.max_connections_per_ip
        "handshake_timeout" .Values.limits.handshake_timeout
        "idle_timeout" .Values.limits.idle_timeout
        "max_secret_size" .Values.limits.max_secret_size)
      "log" (dict "level" .Values.log.level "format" .Values.log.format)
      "audit" (dict "path" .Values.audit.path)
      "workloads" .Values.workloads
      "secrets" (dict)
      "secrets_dir" $p.secrets
-}}
{{- toYaml $cfg -}}
{{- end -}}

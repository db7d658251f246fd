{{/*
Labels on every object's metadata: manifests/base's (`app.kubernetes.io/part-of`) plus Helm's.
Selectors and pod template labels stay exactly as in manifests/base: the operator finds the data
planes by `app.kubernetes.io/name=sluice-dataplane`, and selectors cannot change on upgrade.
*/}}
{{- define "sluice.labels" -}}
app.kubernetes.io/part-of: sluice
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The image of both components; the tag defaults to the chart's appVersion. */}}
{{- define "sluice.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Names of the token Secrets the Deployments mount: the given one, or the chart's. */}}
{{- define "sluice.pushTokenSecret" -}}
{{ .Values.pushToken.existingSecret | default "sluice-push-token" }}
{{- end }}
{{- define "sluice.readTokenSecret" -}}
{{ .Values.readToken.existingSecret | default "sluice-read-token" }}
{{- end }}

{{/*
The pod security context both Deployments use: non-root 65532 (the Dockerfile's USER), runtime
default seccomp. With the container context below, pods pass the restricted Pod Security Standard.
*/}}
{{- define "sluice.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- define "sluice.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/*
A token Secret: random on install, the same token on every upgrade (read back with `lookup`;
`helm template` and `--dry-run=client` cannot look up, so they show a new random token).
Argument: (list $ "sluice-push-token").
*/}}
{{- define "sluice.tokenSecret" -}}
{{- $ := index . 0 }}
{{- $name := index . 1 }}
{{- $existing := lookup "v1" "Secret" $.Release.Namespace $name }}
{{- $token := "" }}
{{- if and $existing $existing.data }}
{{- $token = index $existing.data "token" | default "" }}
{{- end }}
{{- if not $token }}
{{- $token = randAlphaNum 64 | b64enc }}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "sluice.labels" $ | nindent 4 }}
type: Opaque
data:
  token: {{ $token }}
{{- end }}

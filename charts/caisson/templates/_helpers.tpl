{{/* Name of the release's objects: <release>-caisson, or the release name when it holds "caisson". */}}
{{- define "caisson.fullname" -}}
{{- if contains "caisson" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-caisson" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "caisson.labels" -}}
app.kubernetes.io/name: caisson
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: web-server
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "caisson.selectorLabels" -}}
app.kubernetes.io/name: caisson
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: web-server
{{- end -}}

{{- define "caisson.serviceAccountName" -}}
{{- default (include "caisson.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Namespace of the flow pods: flowNamespace, or the release namespace. */}}
{{- define "caisson.flowNamespace" -}}
{{- default .Release.Namespace .Values.flowNamespace -}}
{{- end -}}

{{- define "caisson.secretName" -}}
{{- default (printf "%s-secrets" (include "caisson.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The URL flow pods use to reach the web server. */}}
{{- define "caisson.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" (include "caisson.fullname" .) .Release.Namespace .Values.service.port -}}
{{- end -}}
{{- end -}}

{{- define "caisson.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

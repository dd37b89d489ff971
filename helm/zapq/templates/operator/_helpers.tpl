{{/* zapq's inbound webhook as Evolution reaches it: the value, else the API Service's URL. */}}
{{- define "zapq.operator.webhookUrl" -}}
{{- if .Values.operator.webhookUrl }}
{{- .Values.operator.webhookUrl }}
{{- else }}
{{- printf "http://%s-api.%s.svc:%v/v1/webhooks/evolution" (include "zapq.fullname" .) .Release.Namespace .Values.api.service.port }}
{{- end }}
{{- end }}

{{/* Fail early on operator values that would render a broken release. */}}
{{- define "zapq.operator.validate" -}}
{{- if and (not .Values.operator.webhookTokenSecretRef.name) (not .Values.secrets.existingSecret) (not .Values.secrets.evolutionWebhookToken) }}
{{- fail "operator.enabled: set secrets.evolutionWebhookToken (or operator.webhookTokenSecretRef.name): zapq's webhook token, which the operator sets on every instance and the API checks" }}
{{- end }}
{{- end }}

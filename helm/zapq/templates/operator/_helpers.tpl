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
{{- if not .Values.operator.webhookTokenSecretRef.name }}
{{- fail "operator.enabled: set operator.webhookTokenSecretRef.name, a Secret holding zapq's webhook token (what the API checks as ZAPQ_EVOLUTION__WEBHOOK_TOKEN)" }}
{{- end }}
{{- end }}

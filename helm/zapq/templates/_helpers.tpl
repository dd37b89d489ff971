{{/* Chart name. */}}
{{- define "zapq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: every object's name prefix; the dashboards and alerts select pods by "<fullname>-". */}}
{{- define "zapq.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "zapq.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "zapq.labels" -}}
helm.sh/chart: {{ include "zapq.chart" . }}
{{ include "zapq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: zapq
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels: stable across upgrades, so never helm.sh/chart or the version. */}}
{{- define "zapq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zapq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector labels of one component: (dict "ctx" $ "component" "api"). */}}
{{- define "zapq.componentLabels" -}}
{{ include "zapq.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "zapq.componentSelectorLabels" -}}
{{ include "zapq.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "zapq.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zapq.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image of every zapq role. */}}
{{- define "zapq.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "zapq.redisImage" -}}
{{- $image := .Values.redis.bundled.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $image.tag }}
{{- end }}
{{- end }}

{{- define "zapq.secretName" -}}
{{- default (include "zapq.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "zapq.redisHost" -}}
{{- printf "%s-redis" (include "zapq.fullname" .) }}
{{- end }}

{{/* The worker HPA's backlog target per pod: rate per pod x seconds of backlog accepted. */}}
{{- define "zapq.worker.queueTarget" -}}
{{- mulf .Values.worker.ratePerSecond .Values.worker.autoscaling.queue.backlogSeconds | ceil | int }}
{{- end }}

{{/* The ready backlog as KEDA queries it (the HPA reads the same through prometheus-adapter). */}}
{{- define "zapq.worker.queueQuery" -}}
{{- printf "sum(max by (priority) (zapq_queue_ready_messages{namespace=\"%s\", pod=~\"%s-.+\"}))" .Release.Namespace (include "zapq.fullname" .) }}
{{- end }}

{{/* A checksum of the configuration: pods roll when the ConfigMap or the chart's Secret changes. */}}
{{- define "zapq.configChecksum" -}}
{{- $config := include (print $.Template.BasePath "/config/configmap.yaml") . }}
{{- $secret := include (print $.Template.BasePath "/config/secret.yaml") . -}}
checksum/config: {{ print $config $secret | sha256sum }}
{{- end }}

{{/* Environment of a zapq container: the ConfigMap, and only the secrets its role uses, so
that the internet-facing API never holds the Evolution key: (dict "ctx" $ "role" "api"). The API
gets the API keys and the webhook token (and leaves seeding the sender pool to the workers); the
workers the Evolution key, the senders and the callbacks' signing secret; the operator the
Evolution key and the webhook token; the scheduler none (its tokens are added by its CronJob). */}}
{{- define "zapq.env" -}}
{{- $secret := include "zapq.secretName" .ctx }}
envFrom:
  - configMapRef:
      name: {{ include "zapq.fullname" .ctx }}
env:
  - name: ZAPQ_REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: redis-url
  {{- if eq .role "api" }}
  - name: ZAPQ_API_KEYS
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: api-keys
  {{- /* Optional: an existingSecret may hold only the plain keys. */}}
  - name: ZAPQ_API__KEYS
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: api-key-hashes
        optional: true
  - name: ZAPQ_API__SEED_SENDERS
    value: "false"
  {{- end }}
  {{- if or (eq .role "api") (and (eq .role "operator") (not .ctx.Values.operator.webhookTokenSecretRef.name)) }}
  - name: ZAPQ_EVOLUTION__WEBHOOK_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: evolution-webhook-token
        optional: true
  {{- end }}
  {{- if eq .role "operator" }}
  - name: ZAPQ_EVOLUTION__API_KEY
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: evolution-api-key
  {{- end }}
  {{- if eq .role "worker" }}
  - name: ZAPQ_EVOLUTION__API_KEY
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: evolution-api-key
  {{- /* Optional: an existingSecret without the key runs the one default sender. */}}
  - name: ZAPQ_SENDERS
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: senders
        optional: true
  - name: ZAPQ_CALLBACKS__SIGNING_SECRET
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: callbacks-signing-secret
        optional: true
  {{- end }}
{{- end }}

{{/* The `senders` value as ZAPQ_SENDERS reads it: a JSON list with snake_case keys (keys left
out keep zapq's defaults). */}}
{{- define "zapq.sendersJson" -}}
{{- $keys := dict "name" "name" "instance" "instance" "baseUrl" "base_url" "apiKey" "api_key" "ratePerSecond" "rate_per_second" "burst" "burst" "dailyLimit" "daily_limit" "timeZone" "time_zone" "paused" "paused" }}
{{- $senders := list }}
{{- range .Values.senders }}
{{- $given := . }}
{{- $sender := dict }}
{{- range $camel, $snake := $keys }}
{{- if hasKey $given $camel }}
{{- $_ := set $sender $snake (get $given $camel) }}
{{- end }}
{{- end }}
{{- $senders = append $senders $sender }}
{{- end }}
{{- toJson $senders }}
{{- end }}

{{/* Pod-level settings shared by every zapq pod. */}}
{{- define "zapq.podCommon" -}}
serviceAccountName: {{ include "zapq.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The writable /tmp of a read-only root file system. */}}
{{- define "zapq.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "zapq.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Fail early on values that would render a broken release. */}}
{{- define "zapq.validate" -}}
{{- if le (int .Values.worker.terminationGracePeriodSeconds) (int .Values.worker.drainTimeoutSeconds) }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%v) must exceed worker.drainTimeoutSeconds (%v): the pod would be killed mid-drain" .Values.worker.terminationGracePeriodSeconds .Values.worker.drainTimeoutSeconds) }}
{{- end }}
{{- if and (eq .Values.redis.mode "external") (not .Values.secrets.existingSecret) (not .Values.redis.external.url) }}
{{- fail "redis.mode is external: set redis.external.url, or secrets.existingSecret with a redis-url key" }}
{{- end }}
{{- if and .Values.scheduler.enabled (eq .Values.scheduler.source "sql") (not .Values.secrets.existingSecret) (not .Values.secrets.scheduleDatabaseUrl) }}
{{- fail "scheduler.source is sql: set secrets.scheduleDatabaseUrl (or secrets.existingSecret with schedule-database-url)" }}
{{- end }}
{{- if and .Values.scheduler.enabled (ne .Values.scheduler.source "sql") (not .Values.scheduler.sourceUrl) }}
{{- fail (printf "scheduler.enabled with source %s: set scheduler.sourceUrl" .Values.scheduler.source) }}
{{- end }}
{{- if and .Values.senders .Values.secrets.existingSecret }}
{{- fail (printf "senders go into the chart's Secret, which secrets.existingSecret (%s) replaces: put the ZAPQ_SENDERS JSON under its `senders` key instead" .Values.secrets.existingSecret) }}
{{- end }}
{{- $names := dict }}
{{- range .Values.senders }}
{{- if hasKey $names .name }}
{{- fail (printf "senders: the name %s is used twice (each sender needs its own)" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- end }}
{{- end }}

{{/* Egress rules every zapq pod needs: Redis and DNS. */}}
{{- define "zapq.egressRedisAndDns" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  to:
    {{- toYaml .Values.networkPolicy.dns | nindent 4 }}
{{- if eq .Values.redis.mode "bundled" }}
- ports:
    - port: 6379
      protocol: TCP
  to:
    - podSelector:
        matchLabels:
          {{- include "zapq.componentSelectorLabels" (dict "ctx" . "component" "redis") | nindent 10 }}
{{- else }}
- ports:
    - port: {{ .Values.networkPolicy.externalRedis.port }}
      protocol: TCP
  {{- with .Values.networkPolicy.externalRedis.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The worker autoscaler's behavior (HPA, and KEDA's horizontalPodAutoscalerConfig). */}}
{{- define "zapq.worker.behavior" -}}
{{- $b := .Values.worker.autoscaling.behavior }}
scaleUp:
  stabilizationWindowSeconds: {{ $b.scaleUp.stabilizationWindowSeconds }}
  # The larger of the two: +percent or +pods per period.
  selectPolicy: Max
  policies:
    - type: Percent
      value: {{ $b.scaleUp.percent }}
      periodSeconds: {{ $b.scaleUp.periodSeconds }}
    - type: Pods
      value: {{ $b.scaleUp.pods }}
      periodSeconds: {{ $b.scaleUp.periodSeconds }}
scaleDown:
  stabilizationWindowSeconds: {{ $b.scaleDown.stabilizationWindowSeconds }}
  # The larger of the two, so small fleets still shrink by one pod per period.
  selectPolicy: Max
  policies:
    - type: Percent
      value: {{ $b.scaleDown.percent }}
      periodSeconds: {{ $b.scaleDown.periodSeconds }}
    - type: Pods
      value: {{ $b.scaleDown.pods }}
      periodSeconds: {{ $b.scaleDown.periodSeconds }}
{{- end }}

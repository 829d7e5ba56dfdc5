{{/*
One Deployment shape for both bots; each bot's template gives what differs. Called with a dict:
  root: $, component: "telegram-bot", image: "telegram-bot", bot: .Values.telegramBot, replicas: <int>,
  webhook: <bool>, env: <YAML list of env entries>, credentials: list of (dict "secret" "key" "path"), the Secrets
  mounted as files under /etc/totp/credentials.
*/}}
{{- define "totp.botDeployment" -}}
{{- $ := .root -}}
{{- $bot := .bot -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "totp.componentName" (list $ .component) }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "totp.labels" (list $ .component) | nindent 4 }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "totp.selectorLabels" (list $ .component) | nindent 6 }}
  strategy:
    {{- if .webhook }}
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
    {{- else }}
    # A long-polling bot must never run twice, even during a rollout: a second poller gets 409 from the platform.
    type: Recreate
    {{- end }}
  template:
    metadata:
      labels:
        {{- include "totp.labels" (list $ .component) | nindent 8 }}
      {{- with $bot.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "totp.componentName" (list $ .component) }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "totp.podSecurityContext" $ | nindent 8 }}
      {{- with include "totp.topologySpread" (list $ .component $bot.topologySpread) }}{{ . | nindent 6 }}{{ end }}
      {{- with $.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $bot.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $bot.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "totp.image" (list $ .image) }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          securityContext:
            {{- include "totp.containerSecurityContext" $ | nindent 12 }}
          ports:
            - { name: health, containerPort: {{ $bot.healthPort }}, protocol: TCP }
            {{- if .webhook }}
            - { name: webhook, containerPort: {{ $bot.webhook.port }}, protocol: TCP }
            {{- end }}
          env:
            - { name: TOTP_ADDR, value: {{ include "totp.coreAddress" $ | quote }} }
            {{- include "totp.tlsEnv" $ | nindent 12 }}
            - { name: BOT_HEALTH_LISTEN, value: "0.0.0.0:{{ $bot.healthPort }}" }
            {{- .env | nindent 12 }}
          # Ready means the chat platform and totp-core both answer; alive means the process serves HTTP.
          startupProbe:
            httpGet: { path: /healthz, port: health }
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: { path: /healthz, port: health }
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet: { path: /readyz, port: health }
            periodSeconds: 5
            failureThreshold: 2
          resources:
            {{- toYaml $bot.resources | nindent 12 }}
          volumeMounts:
            - { name: tmp, mountPath: /tmp }
            - { name: tls, mountPath: {{ include "totp.tlsDir" $ }}, readOnly: true }
            - { name: credentials, mountPath: /etc/totp/credentials, readOnly: true }
      volumes:
        {{- include "totp.tmpVolume" $ | nindent 8 }}
        {{- include "totp.tlsVolume" (list $ .component .tlsSecret) | nindent 8 }}
        # Tokens and keys only as files (the *_FILE variables), never in the environment.
        - name: credentials
          projected:
            defaultMode: 0440
            sources:
              {{- include "totp.secretFileSources" .credentials | trim | nindent 14 }}
{{- end -}}

{{/* The webhook Service and optional Ingress of a bot in webhook mode. Same dict, plus host, path, ingress. */}}
{{- define "totp.botWebhook" -}}
{{- $ := .root -}}
{{- $name := include "totp.componentName" (list $ .component) -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "totp.labels" (list $ .component) | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "totp.selectorLabels" (list $ .component) | nindent 4 }}
  ports:
    - name: webhook
      port: {{ .bot.webhook.port }}
      targetPort: webhook
      protocol: TCP
      appProtocol: http
{{- if .ingress.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "totp.labels" (list $ .component) | nindent 4 }}
  {{- with .ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with .ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  tls:
    - hosts: [{{ .host | quote }}]
      {{- with .ingress.tlsSecretName }}
      secretName: {{ . }}
      {{- end }}
  rules:
    - host: {{ .host | quote }}
      http:
        paths:
          - path: {{ .path }}
            pathType: Exact
            backend:
              service:
                name: {{ $name }}
                port:
                  name: webhook
{{- end }}
{{- end -}}

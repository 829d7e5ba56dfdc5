{{/* Names: every object is "<fullname>-<component>", so two releases in one namespace never collide. */}}
{{- define "totp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "totp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>"; call with (list $ "core"). */}}
{{- define "totp.componentName" -}}
{{- printf "%s-%s" (include "totp.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{- define "totp.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "totp.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "totp.labels" -}}
{{- $ := index . 0 -}}
{{ include "totp.selectorLabels" . }}
app.kubernetes.io/part-of: totp-custody
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Every object of the release, whatever its component: what the default-deny NetworkPolicy selects. */}}
{{- define "totp.releaseSelector" -}}
app.kubernetes.io/name: {{ include "totp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* registry/totp-custody/<service>:<tag>, or @digest when one is given for that service. */}}
{{- define "totp.image" -}}
{{- $ := index . 0 -}}
{{- $service := index . 1 -}}
{{- $repository := printf "%s/%s" $.Values.image.repositoryPrefix $service -}}
{{- if $.Values.image.registry -}}
{{- $repository = printf "%s/%s" $.Values.image.registry $repository -}}
{{- end -}}
{{- $digest := index $.Values.image.digests $service | default "" -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default $.Chart.AppVersion $.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Pod Security "restricted", for every pod of the chart (hook pods included). */}}
{{- define "totp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "totp.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The root filesystem is read-only: node and its libraries may still want a scratch /tmp. */}}
{{- define "totp.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 32Mi
{{- end -}}

{{/* Where each pod finds its certificate, key and CA; the file names are those of cert-manager's Secrets. */}}
{{- define "totp.tlsDir" -}}/etc/totp/tls{{- end -}}

{{- define "totp.tlsEnv" -}}
- name: TOTP_TLS_CERT
  value: {{ include "totp.tlsDir" . }}/tls.crt
- name: TOTP_TLS_KEY
  value: {{ include "totp.tlsDir" . }}/tls.key
- name: TOTP_TLS_CA
  value: {{ include "totp.tlsDir" . }}/ca.crt
{{- end -}}

{{/*
The Secret holding a component's certificate: the one cert-manager writes, or the operator's existing one.
Call with (list $ "<component>" "<existingSecret value>").
*/}}
{{- define "totp.tlsSecretName" -}}
{{- $ := index . 0 -}}
{{- if eq $.Values.tls.source "existingSecrets" -}}
{{- required (printf "tls.source is existingSecrets: name the Secret of %s (tls.crt, tls.key, ca.crt)" (index . 1)) (index . 2) -}}
{{- else -}}
{{- printf "%s-tls" (include "totp.componentName" (list $ (index . 1))) -}}
{{- end -}}
{{- end -}}

{{- define "totp.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ include "totp.tlsSecretName" . }}
    defaultMode: 0440
    items:
      - { key: tls.crt, path: tls.crt }
      - { key: tls.key, path: tls.key }
      - { key: ca.crt, path: ca.crt }
{{- end -}}

{{/* The SPIFFE identity a component's certificate carries and the policy names: spiffe://<trustDomain>/<name>. */}}
{{- define "totp.spiffeId" -}}
{{- printf "spiffe://%s/%s" (index . 0).Values.trustDomain (index . 1) -}}
{{- end -}}

{{- define "totp.coreHost" -}}
{{- printf "%s.%s.svc" (include "totp.componentName" (list . "core")) .Release.Namespace -}}
{{- end -}}

{{- define "totp.coreAddress" -}}
{{- printf "%s:%d" (include "totp.coreHost" .) (int .Values.core.ports.grpc) -}}
{{- end -}}

{{/* A long-polling bot must run alone: two pollers would fight over updates (Telegram answers 409). */}}
{{- define "totp.telegramReplicas" -}}
{{- if eq .Values.telegramBot.mode "webhook" -}}{{ .Values.telegramBot.replicas }}{{- else -}}1{{- end -}}
{{- end -}}

{{- define "totp.zulipReplicas" -}}
{{- if eq .Values.zulipBot.mode "webhook" -}}{{ .Values.zulipBot.replicas }}{{- else -}}1{{- end -}}
{{- end -}}

{{/* The policy file totp-core reads, built as data and written with toYaml so it is always well-formed YAML. */}}
{{- define "totp.policy" -}}
{{- $clients := dict -}}
{{- if .Values.telegramBot.enabled -}}
{{- $_ := set $clients (include "totp.spiffeId" (list . "telegram-bot")) (dict "actsFor" "telegram") -}}
{{- end -}}
{{- if .Values.zulipBot.enabled -}}
{{- $_ := set $clients (include "totp.spiffeId" (list . "zulip-bot")) (dict "actsFor" "zulip") -}}
{{- end -}}
{{- range .Values.internalClients -}}
{{- $rule := dict -}}
{{- if .principal -}}{{- $_ := set $rule "principal" .principal -}}{{- end -}}
{{- if .actsFor -}}{{- $_ := set $rule "actsFor" .actsFor -}}{{- end -}}
{{- if .admin -}}{{- $_ := set $rule "admin" true -}}{{- end -}}
{{- $_ := set $clients (include "totp.spiffeId" (list $ .name)) $rule -}}
{{- end -}}
{{- range $name, $time := .Values.policy.issuedAfter -}}
{{- $id := include "totp.spiffeId" (list $ $name) -}}
{{- if not (hasKey $clients $id) -}}
{{- fail (printf "policy.issuedAfter: %q is not a client of this release" $name) -}}
{{- end -}}
{{- $_ := set (get $clients $id) "issuedAfter" $time -}}
{{- end -}}
{{- $policy := dict "clients" $clients "selfService" .Values.policy.selfService -}}
{{- if .Values.policy.groups -}}{{- $_ := set $policy "groups" .Values.policy.groups -}}{{- end -}}
{{- if .Values.policy.shared -}}{{- $_ := set $policy "shared" .Values.policy.shared -}}{{- end -}}
{{- toYaml $policy -}}
{{- end -}}

{{/* Names an internal client may not take: the chart's own identities. */}}
{{- define "totp.reservedClientNames" -}}totp-core telegram-bot zulip-bot helm-test{{- end -}}

{{- define "totp.topologySpread" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- $spread := index . 2 -}}
{{- if $spread.enabled -}}
topologySpreadConstraints:
{{- range $spread.topologyKeys }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "totp.selectorLabels" (list $ $component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Projected-volume sources of Secret files: a list of (dict "secret" <name> "key" <key in it> "path" <file>). */}}
{{- define "totp.secretFileSources" -}}
{{- range . }}
- secret:
    name: {{ .secret }}
    items: [{ key: {{ .key | quote }}, path: {{ .path }} }]
{{- end -}}
{{- end -}}

{{/* The projected-volume source of a CA from a Secret or else a ConfigMap: (list <secretName, configMapName, key>
"<file>"); nothing when neither is named. */}}
{{- define "totp.caFileSource" -}}
{{- $ca := index . 0 -}}
{{- $path := index . 1 -}}
{{- if $ca.secretName }}
- secret:
    name: {{ $ca.secretName }}
    items: [{ key: {{ $ca.key | quote }}, path: {{ $path }} }]
{{- else if $ca.configMapName }}
- configMap:
    name: {{ $ca.configMapName }}
    items: [{ key: {{ $ca.key | quote }}, path: {{ $path }} }]
{{- end -}}
{{- end -}}

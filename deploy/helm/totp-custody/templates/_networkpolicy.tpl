{{/*
Pieces of the NetworkPolicies. Each returns YAML list items, or nothing: a rule is only written when it names at
least one peer, since a rule with no peers would allow every source or destination.
*/}}

{{/* The pods of one component of this release: (list $ "<component>"). */}}
{{- define "totp.peerOf" -}}
- podSelector:
    matchLabels:
      {{- include "totp.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* A peer from a namespaceSelector and/or podSelector (label maps). An empty namespaceSelector would mean every
namespace, so it is left out, which means the release's namespace. */}}
{{- define "totp.selectorPeer" -}}
{{- $peer := dict -}}
{{- with .namespaceSelector -}}{{- $_ := set $peer "namespaceSelector" (dict "matchLabels" .) -}}{{- end -}}
{{- with .podSelector -}}{{- $_ := set $peer "podSelector" (dict "matchLabels" .) -}}{{- end -}}
{{- if $peer -}}{{- toYaml (list $peer) -}}{{- end -}}
{{- end -}}

{{- define "totp.cidrPeers" -}}
{{- $peers := list -}}
{{- range . -}}{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) -}}{{- end -}}
{{- if $peers -}}{{- toYaml $peers -}}{{- end -}}
{{- end -}}

{{/* One rule: (dict "key" "to"|"from" "peers" <YAML items> "ports" <YAML items>); nothing without peers. */}}
{{- define "totp.rule" -}}
{{- if trim .peers -}}
- {{ .key }}:
    {{- trim .peers | nindent 4 }}
  ports:
    {{- trim .ports | nindent 4 }}
{{- end -}}
{{- end -}}

{{- define "totp.tcpPorts" -}}
{{- range . }}
- { protocol: TCP, port: {{ . }} }
{{- end -}}
{{- end -}}

{{- define "totp.dnsEgress" -}}
{{- $ports := "" -}}
{{- range .Values.networkPolicy.dns.ports -}}
{{- $ports = printf "%s- { protocol: UDP, port: %d }\n- { protocol: TCP, port: %d }\n" $ports (int .) (int .) -}}
{{- end -}}
{{- include "totp.rule" (dict "key" "to" "peers" (include "totp.selectorPeer" .Values.networkPolicy.dns) "ports" $ports) -}}
{{- end -}}

{{- define "totp.coreEgress" -}}
{{- include "totp.rule" (dict "key" "to" "peers" (include "totp.peerOf" (list . "core")) "ports" (include "totp.tcpPorts" (list .Values.core.ports.grpc))) -}}
{{- end -}}

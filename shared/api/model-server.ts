/**
 * ModelServer (networking.serving.volcano.sh/v1alpha1): the pods that run one model, how to reach
 * them and how to treat their traffic. Field for field the Kthena Router API, plus TGI.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Condition, Duration, LABEL_KEY_FIX, LABEL_KEY_PATTERN, LabelMap, ObjectMeta, StringEnum } from './schema-kit';

/** Inference engines whose metrics and APIs Sluice understands. */
export const INFERENCE_ENGINES = ['vLLM', 'SGLang', 'TGI'] as const;
/** KV connector types for prefill/decode disaggregation. */
export const KV_CONNECTOR_TYPES = ['http', 'lmcache', 'nixl', 'mooncake'] as const;

/** Prefill/decode grouping of the selected pods. */
export const PdGroup = Type.Object({
  groupKey: Type.String({ minLength: 1, maxLength: 317, description: 'Label key whose value names a PD group; only a prefill and a decode pod with the same value are paired. A selected pod without this label is left out.' }),
  prefillLabels: LabelMap({ description: 'Labels that mark a selected pod as prefill; it must carry all of them.' }),
  decodeLabels: LabelMap({ description: 'Labels that mark a selected pod as decode; it must carry all of them.' }),
}, {
  additionalProperties: false,
  description: 'Prefill/decode disaggregation: classifies the selected pods into prefill and decode roles and groups them, so each request goes to a prefill and a decode pod of one group. '
    + 'A selected pod with neither role is left out and named in the Ready condition. The ModelServer is Ready when at least one group has both roles.',
  'x-kubernetes-validations': [{ rule: `self.groupKey.matches('${LABEL_KEY_PATTERN}')`, message: `groupKey is not a label key; ${LABEL_KEY_FIX}`, fieldPath: '.groupKey' }],
});

/** The message for a selector that selects every pod; shared by the CEL rule and the operator. */
export const EMPTY_SELECTOR_FIX = 'workloadSelector selects every pod in the namespace; set matchLabels (e.g. {app: my-model}) or pdGroup';

/** ModelServer spec. */
export const ModelServerSpec = Type.Object({
  model: Type.Optional(Type.String({ maxLength: 256, description: 'The model the pods run. Requests for a base model are rewritten to it; LoRA requests keep their adapter name.' })),
  inferenceEngine: StringEnum(INFERENCE_ENGINES, { description: 'The inference engine the pods run: which metrics the scheduler reads and, with pdGroup, SGLang\'s bootstrap protocol. TGI is Sluice only.' }),
  workloadSelector: Type.Object({
    matchLabels: Type.Optional(LabelMap({ description: 'Pods must carry all of these labels (same namespace as the ModelServer).' })),
    pdGroup: Type.Optional(PdGroup),
  }, {
    additionalProperties: false,
    description: 'Selects the pods that serve this model. Set matchLabels, pdGroup or both: an empty selector would select every pod in the namespace.',
    'x-kubernetes-validations': [{ rule: '(has(self.matchLabels) && size(self.matchLabels) > 0) || has(self.pdGroup)', message: EMPTY_SELECTOR_FIX }],
  }),
  workloadPort: Type.Optional(Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Port the engine listens on, on every selected pod.' }),
    protocol: Type.Optional(StringEnum(['http', 'https'] as const, { default: 'http', description: 'Protocol Sluice speaks to the engine: http or https.' })),
  }, { additionalProperties: false, description: 'Port and protocol of the engine. When unset, port 8000 over http.' })),
  trafficPolicy: Type.Optional(Type.Object({
    timeout: Type.Optional(Duration('Deadline for the response headers, from the request\'s arrival, retries included (Kthena gives each attempt its own), e.g. 10s; a stream that started in time is never cut (as in Kthena). Unset: the data plane\'s first-byte deadline. The annotation sluice.dev/request-deadline bounds the whole exchange.')),
    retry: Type.Optional(Type.Object({
      attempts: Type.Optional(Type.Integer({
        minimum: 0,
        maximum: 10,
        description: 'Extra attempts, each on another endpoint, after an engine answers 5xx or the connection breaks before the response headers; when none remain, the 5xx is passed through. '
          + 'A refused connection moves to the next endpoint without spending one. Unset: 1; 0 passes the first failure through.',
      })),
      retryInterval: Type.Optional(Duration('Pause before each retry attempt, e.g. 100ms.', { default: '100ms' })),
    }, { additionalProperties: false, description: 'Retries of a failed request on other endpoints. Unset: one retry after 100ms.' })),
  }, { additionalProperties: false, description: 'How the data plane forwards to the pods: the deadline for the response headers and the retries.' })),
  kvConnector: Type.Optional(Type.Object({
    type: Type.Optional(StringEnum(KV_CONNECTOR_TYPES, {
      default: 'http',
      description: 'How prefill hands its KV cache to decode. http, lmcache: both get the original request, prefill first (its answer is dropped). '
        + 'nixl, mooncake: prefill gets max_tokens 1 and kv_transfer_params, decode gets the kv_transfer_params prefill returns.',
    })),
  }, { additionalProperties: false, description: 'The KV connector of a prefill/decode ModelServer. Used only with workloadSelector.pdGroup; an SGLang ModelServer always uses SGLang\'s bootstrap protocol.' })),
}, {
  additionalProperties: false,
  description: 'Which pods serve the model (workloadSelector), how to reach them (workloadPort), how to forward to them (trafficPolicy) and, for prefill/decode disaggregation, how the KV cache moves (kvConnector). '
    + 'Kthena\'s ModelServerSpec field for field (inferenceEngine also takes TGI); Sluice-only settings are sluice.dev/ annotations.',
});

/** Observed state written by the operator. */
export const ModelServerStatus = Type.Object({
  conditions: Type.Optional(Type.Array(Condition, {
    description: 'Ready: some selected pods take traffic (with pdGroup, at least one group has a prefill and a decode pod); the message counts them or says why none does. '
      + 'SchedulerConfigured: which scheduler configuration applies. QueueConfigured, AdaptersConfigured, KvEventsConfigured, DeadlineConfigured: whether that feature\'s sluice.dev/ annotations are valid and what they set up; present only when the feature is in use. '
      + 'Accepted=False (reason Invalid) when Sluice refuses the latest spec; the last valid version keeps serving.',
  })),
  readyEndpoints: Type.Optional(Type.Integer({ minimum: 0, description: 'Selected pods that take traffic: phase Running, condition Ready=True and a pod IP; with pdGroup, only those with a role and the groupKey label.' })),
  totalEndpoints: Type.Optional(Type.Integer({ minimum: 0, description: 'Pods in the namespace that workloadSelector.matchLabels selects, ready or not.' })),
}, { additionalProperties: false, description: 'Observed state, written by the Sluice operator. Sluice only: Kthena\'s ModelServer status is empty.' });

/** The ModelServer object. */
export const ModelServer = Type.Object({
  apiVersion: Type.Literal('networking.serving.volcano.sh/v1alpha1'),
  kind: Type.Literal('ModelServer'),
  metadata: ObjectMeta,
  spec: ModelServerSpec,
  status: Type.Optional(ModelServerStatus),
}, { additionalProperties: false });

/** A ModelServer with defaults applied. */
export type ModelServer = Static<typeof ModelServer>;
/** An inference engine name. */
export type InferenceEngine = (typeof INFERENCE_ENGINES)[number];

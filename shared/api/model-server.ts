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
  groupKey: Type.String({ minLength: 1, maxLength: 317, description: 'Label key whose value names a PD group; prefill and decode pods with the same value are paired.' }),
  prefillLabels: LabelMap({ description: 'Labels that mark a pod as prefill.' }),
  decodeLabels: LabelMap({ description: 'Labels that mark a pod as decode.' }),
}, {
  additionalProperties: false,
  description: 'Further classifies the selected pods into prefill and decode roles.',
  'x-kubernetes-validations': [{ rule: `self.groupKey.matches('${LABEL_KEY_PATTERN}')`, message: `groupKey is not a label key; ${LABEL_KEY_FIX}`, fieldPath: '.groupKey' }],
});

/** The message for a selector that selects every pod; shared by the CEL rule and the operator. */
export const EMPTY_SELECTOR_FIX = 'workloadSelector selects every pod in the namespace; set matchLabels (e.g. {app: my-model}) or pdGroup';

/** ModelServer spec. */
export const ModelServerSpec = Type.Object({
  model: Type.Optional(Type.String({ maxLength: 256, description: 'The model the pods run. Requests for a base model are rewritten to it; LoRA requests keep their adapter name.' })),
  inferenceEngine: StringEnum(INFERENCE_ENGINES, { description: 'The inference engine the pods run.' }),
  workloadSelector: Type.Object({
    matchLabels: Type.Optional(LabelMap({ description: 'Pods must carry all of these labels (same namespace as the ModelServer).' })),
    pdGroup: Type.Optional(PdGroup),
  }, {
    additionalProperties: false,
    description: 'Selects the pods that serve this model. Set matchLabels, pdGroup or both: an empty selector would select every pod in the namespace.',
    'x-kubernetes-validations': [{ rule: '(has(self.matchLabels) && size(self.matchLabels) > 0) || has(self.pdGroup)', message: EMPTY_SELECTOR_FIX }],
  }),
  workloadPort: Type.Optional(Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Port the engine listens on.' }),
    protocol: Type.Optional(StringEnum(['http', 'https'] as const, { default: 'http', description: 'Protocol of the engine endpoint.' })),
  }, { additionalProperties: false, description: 'Port and protocol of the engine. When unset, port 8000 over http.' })),
  trafficPolicy: Type.Optional(Type.Object({
    timeout: Type.Optional(Duration('Deadline for the response headers, from the request\'s arrival, retries included, e.g. 10s; a stream that started in time is never cut (as in Kthena). Unset: the data plane\'s first-byte deadline. The annotation sluice.dev/request-deadline bounds the whole exchange.')),
    retry: Type.Optional(Type.Object({
      attempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'Extra attempts on another endpoint after a connect error or a 5xx before the first byte.' })),
      retryInterval: Type.Optional(Duration('Pause between attempts.', { default: '100ms' })),
    }, { additionalProperties: false })),
  }, { additionalProperties: false, description: 'Traffic policy for requests to the pods.' })),
  kvConnector: Type.Optional(Type.Object({
    type: Type.Optional(StringEnum(KV_CONNECTOR_TYPES, { default: 'http', description: 'How prefill hands its KV cache to decode.' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** Observed state written by the operator. */
export const ModelServerStatus = Type.Object({
  conditions: Type.Optional(Type.Array(Condition)),
  readyEndpoints: Type.Optional(Type.Integer({ minimum: 0, description: 'Selected pods that are Running and Ready.' })),
  totalEndpoints: Type.Optional(Type.Integer({ minimum: 0, description: 'Pods the workloadSelector selects.' })),
}, { additionalProperties: false });

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

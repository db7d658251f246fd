/**
 * Builds the CustomResourceDefinitions from the TypeBox schemas, so `crds/*.yaml` never drift from
 * the validator. The walk keeps only keywords of Kubernetes structural schemas: `additionalProperties:
 * false` becomes the API server's pruning, TypeBox's record `patternProperties` becomes
 * `additionalProperties`, and integers are marked int32 as Kthena's are.
 */
import { type TSchema } from '@sinclair/typebox';
import { ModelRouteSpec, ModelRouteStatus } from './model-route';
import { ModelServerSpec, ModelServerStatus } from './model-server';
import { ExternalModelProviderSpec, ExternalModelProviderStatus } from './external-provider';
import { ROUTING_API_VERSION } from './validate';

const KEPT = new Set(['type', 'description', 'properties', 'required', 'items', 'enum', 'default', 'minimum', 'maximum',
  'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'format', 'x-kubernetes-validations', 'additionalProperties']);

type Json = Record<string, unknown>;

/** Converts one TypeBox schema into a structural OpenAPI v3 schema. */
export function toStructural(schema: TSchema): Json {
  const src = schema as unknown as Json;
  const out: Json = {};
  for (const key of Object.keys(src)) {
    if (!KEPT.has(key)) continue;
    const v = src[key];
    if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, TSchema>).map(([k, s]) => [k, toStructural(s)]));
    } else if (key === 'items') {
      out.items = toStructural(v as TSchema);
    } else if (key === 'additionalProperties') {
      if (typeof v === 'object') out.additionalProperties = toStructural(v as TSchema);
    } else if (key === 'format' && src.type === 'string' && v !== 'date-time') {
      continue;
    } else {
      out[key] = v;
    }
  }
  if (src.patternProperties) {
    const [only] = Object.values(src.patternProperties as Record<string, TSchema>);
    out.type = 'object';
    out.additionalProperties = toStructural(only!);
  }
  if (src.type === 'integer' && out.format === undefined) out.format = 'int32';
  if (src.type === 'object' && out.properties && Object.keys(out.properties as Json).length === 0 && src.additionalProperties === true) {
    delete out.properties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortNames: string[];
  spec: TSchema;
  status: TSchema;
  description: string;
  columns: Json[];
}

function crd(input: CrdInput): Json {
  const [group, version] = ROUTING_API_VERSION.split('/') as [string, string];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${group}`,
      annotations: { 'sluice.dev/generated-by': 'npm run gen:crds (from shared/api); do not edit by hand' },
    },
    spec: {
      group,
      names: { kind: input.kind, listKind: `${input.kind}List`, plural: input.plural, singular: input.kind.toLowerCase(), shortNames: input.shortNames, categories: ['sluice'] },
      scope: 'Namespaced',
      versions: [{
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: input.columns,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: input.description,
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string', description: `The versioned schema of this object: ${ROUTING_API_VERSION}.` },
              kind: { type: 'string', description: `The REST resource this object represents: ${input.kind}.` },
              // The API server refuses anything but `type` here (it supplies ObjectMeta's schema and description itself).
              metadata: { type: 'object' },
              spec: toStructural(input.spec),
              status: toStructural(input.status),
            },
          },
        },
      }],
    },
  };
}

const condition = (type: string) => `.status.conditions[?(@.type=="${type}")].status`;

/** The ModelRoute CRD. */
export function modelRouteCrd(): Json {
  return crd({
    kind: 'ModelRoute', plural: 'modelroutes', shortNames: ['mr'], spec: ModelRouteSpec, status: ModelRouteStatus,
    description: 'ModelRoute routes requests for a model name or LoRA adapter to ModelServers by ordered rules.',
    columns: [
      { name: 'Model', type: 'string', jsonPath: '.spec.modelName' },
      { name: 'LoRAs', type: 'string', jsonPath: '.spec.loraAdapters', priority: 1 },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      { name: 'Resolved', type: 'string', jsonPath: condition('ResolvedRefs') },
      { name: 'Programmed', type: 'string', jsonPath: condition('Programmed') },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

/** The ModelServer CRD. */
export function modelServerCrd(): Json {
  return crd({
    kind: 'ModelServer', plural: 'modelservers', shortNames: ['ms'], spec: ModelServerSpec, status: ModelServerStatus,
    description: 'ModelServer selects the pods that run one model and sets how traffic reaches them.',
    columns: [
      { name: 'Model', type: 'string', jsonPath: '.spec.model' },
      { name: 'Engine', type: 'string', jsonPath: '.spec.inferenceEngine' },
      { name: 'Port', type: 'integer', jsonPath: '.spec.workloadPort.port' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyEndpoints' },
      { name: 'Pods', type: 'integer', jsonPath: '.status.totalEndpoints' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

/** The ExternalModelProvider CRD. */
export function externalModelProviderCrd(): Json {
  return crd({
    kind: 'ExternalModelProvider', plural: 'externalmodelproviders', shortNames: ['emp'], spec: ExternalModelProviderSpec, status: ExternalModelProviderStatus,
    description: 'ExternalModelProvider is an OpenAI-compatible API outside the cluster that ModelRoute targets can send traffic to (externalModelProviderName).',
    columns: [
      { name: 'Base URL', type: 'string', jsonPath: '.spec.baseURL' },
      { name: 'Model', type: 'string', jsonPath: '.spec.model' },
      { name: 'Ready', type: 'string', jsonPath: condition('Ready') },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

/** Every generated CRD by file name under `crds/`. */
export function allCrds(): Record<string, Json> {
  return {
    'networking.serving.volcano.sh_modelroutes.yaml': modelRouteCrd(),
    'networking.serving.volcano.sh_modelservers.yaml': modelServerCrd(),
    'networking.serving.volcano.sh_externalmodelproviders.yaml': externalModelProviderCrd(),
  };
}

/**
 * Stand-ins for the Gateway API Inference Extension's InferencePool CRDs (not Sluice's; a real
 * cluster installs the project's own), so examples that hold an InferencePool apply to the dev
 * and test API servers unchanged. Both versions Sluice reads are served, each its own group:
 * inference.networking.k8s.io/v1 and the older inference.networking.x-k8s.io/v1alpha2. The schema
 * is left open (spec and status keep unknown fields), with a status subresource as upstream has.
 */

const OPEN = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function poolCrd(group: string, version: string): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `inferencepools.${group}`,
      // Groups under k8s.io need this annotation; the value says this is not the approved CRD.
      ...(group.endsWith('.k8s.io') && !group.endsWith('x-k8s.io')
        ? { annotations: { 'api-approved.kubernetes.io': 'unapproved, local stand-in for the Gateway API Inference Extension CRD' } }
        : {}),
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'inferencepools', singular: 'inferencepool', kind: 'InferencePool', listKind: 'InferencePoolList' },
      versions: [{
        name: version, served: true, storage: true, subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: OPEN, status: OPEN } } },
      }],
    },
  };
}

/** The two InferencePool CRDs as one kubectl List (JSON), for `kubectl apply -f -`. */
export function inferencePoolCrdList(): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [poolCrd('inference.networking.k8s.io', 'v1'), poolCrd('inference.networking.x-k8s.io', 'v1alpha2')],
  });
}

/** Their names, for `kubectl wait --for=condition=Established`. */
export const INFERENCE_POOL_CRDS = ['crd/inferencepools.inference.networking.k8s.io', 'crd/inferencepools.inference.networking.x-k8s.io'];

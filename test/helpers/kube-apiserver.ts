/** The real kube-apiserver harness lives in hack/kube (benchmarks use it too); tests import it here. */
export * from '../../hack/kube/kube-apiserver';

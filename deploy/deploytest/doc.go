// Package deploytest tests the deployment files of secretprov: the Dockerfiles, the GSC manifests,
// the image build script, the Kubernetes manifests (kustomize), the Helm chart and the AKS
// walkthrough (docs/aks.md).
//
// It is its own Go module so that the Kubernetes, Helm and kustomize libraries it needs never
// enter the main module's dependency graph. Everything happens in-process and offline once the
// modules are downloaded: the chart is rendered with Helm's engine, the kustomization is built
// with kustomize's krusty, and every object is decoded strictly (unknown fields fail) into the
// Kubernetes API types (and cert-manager's and the Prometheus Operator's for their CRDs).
//
// It does not build container images, talk to a cluster or run GSC: no Docker engine, cluster or
// SGX hardware is needed. What needs them is written down in docs/aks.md and checked there for
// consistency with these files.
//
// Run: cd deploy/deploytest && go test ./...
package deploytest

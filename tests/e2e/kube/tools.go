//go:build tools

// Package kube pins the three control-plane commands so `go mod tidy` keeps
// every module they need in go.mod and go.sum; `make kube-tools` builds them.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)

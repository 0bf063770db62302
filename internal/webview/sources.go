package webview

import (
	"context"
	"errors"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/clusterview"
)

// EventSource is the component of kelp's Events (the controller's
// recorder): the view reads only those.
const EventSource = "kelp-controller"

// Selectors of what the view reads, applied by the API server.
var (
	unboundPods  = fields.OneTermEqualSelector("spec.nodeName", "").String()
	kelpEvents   = fields.OneTermEqualSelector("source", EventSource).String()
	clientCSRs   = approver.SignerSelector(certificatesv1.KubeAPIServerClientKubeletSignerName)
	statusByName = func(name string) string { return fields.OneTermEqualSelector("metadata.name", name).String() }
)

// Watch keeps the view's facts from watches: Nodes, unbound Pods, kubelet
// client CSRs, kelp's Events and the status ConfigMap, each cache trimmed.
type Watch struct {
	factories []informers.SharedInformerFactory
	nodes     cache.Indexer
	pods      cache.Indexer
	csrs      cache.Indexer
	events    cache.Indexer
	status    cache.Indexer
	informers []cache.SharedIndexInformer
}

// NewWatch builds the informers; statusName is the status ConfigMap in
// kube-system. onChange is called (from informer goroutines) after every
// change.
func NewWatch(client kubernetes.Interface, statusName string, onChange func()) (*Watch, error) {
	w := &Watch{}
	factory := func(opts ...informers.SharedInformerOption) informers.SharedInformerFactory {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, opts...)
		w.factories = append(w.factories, f)
		return f
	}
	tweak := func(sel string) informers.SharedInformerOption {
		return informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = sel })
	}
	trim := informers.WithTransform(cachetrim.Transform)
	w.informers = []cache.SharedIndexInformer{
		factory(trim).Core().V1().Nodes().Informer(),
		factory(trim, tweak(unboundPods)).Core().V1().Pods().Informer(),
		factory(informers.WithTransform(approver.TrimDecided), tweak(clientCSRs)).Certificates().V1().CertificateSigningRequests().Informer(),
		factory(trim, tweak(kelpEvents)).Core().V1().Events().Informer(),
		factory(trim, tweak(statusByName(statusName)), informers.WithNamespace(metav1.NamespaceSystem)).Core().V1().ConfigMaps().Informer(),
	}
	w.nodes, w.pods, w.csrs, w.events, w.status = w.informers[0].GetIndexer(), w.informers[1].GetIndexer(),
		w.informers[2].GetIndexer(), w.informers[3].GetIndexer(), w.informers[4].GetIndexer()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	for _, inf := range w.informers {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("watch for the web view: %w", err)
		}
	}
	return w, nil
}

// Start starts the watches; they stop with ctx (Shutdown waits for them).
func (w *Watch) Start(ctx context.Context) {
	for _, f := range w.factories {
		f.Start(ctx.Done())
	}
}

// Synced reports whether every watch has listed once.
func (w *Watch) Synced() bool {
	for _, inf := range w.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Shutdown waits for the watches to stop (after ctx of Start ended).
func (w *Watch) Shutdown() {
	for _, f := range w.factories {
		f.Shutdown()
	}
}

// Input returns the cached facts (Now, Groups and Leading are the
// caller's).
func (w *Watch) Input() clusterview.Input {
	var in clusterview.Input
	in.Nodes = listOf[*corev1.Node](w.nodes)
	in.Pods = listOf[*corev1.Pod](w.pods)
	in.CSRs = listOf[*certificatesv1.CertificateSigningRequest](w.csrs)
	in.Events = listOf[*corev1.Event](w.events)
	for _, cm := range listOf[*corev1.ConfigMap](w.status) {
		in.Status = cm.Data["status"]
	}
	return in
}

func listOf[T any](idx cache.Indexer) []T {
	objs := idx.List()
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Snapshot lists the facts once through client (Now, Groups and Leading
// are the caller's): what `kelp status` shows.
func Snapshot(ctx context.Context, client kubernetes.Interface, statusName string) (clusterview.Input, error) {
	var in clusterview.Input
	var errs []error
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	errs = append(errs, wrap("list nodes", err))
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: unboundPods})
	errs = append(errs, wrap("list unbound pods", err))
	csrs, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{FieldSelector: clientCSRs})
	errs = append(errs, wrap("list certificatesigningrequests", err))
	events, err := client.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: kelpEvents})
	errs = append(errs, wrap("list events", err))
	cm, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, statusName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		err = nil
	} else if err == nil {
		in.Status = cm.Data["status"]
	}
	errs = append(errs, wrap("get configmap kube-system/"+statusName, err))
	if err := errors.Join(errs...); err != nil {
		return in, err
	}
	in.Nodes, in.Pods, in.CSRs, in.Events = ptrs(nodes.Items), ptrs(pods.Items), ptrs(csrs.Items), ptrs(events.Items)
	return in, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

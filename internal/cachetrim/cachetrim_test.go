package cachetrim_test

import (
	"fmt"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/simulator"
)

var yes = true

var managed = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}}

// dressed adds to p what a real pod carries and no kelp reader needs.
func dressed(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	p.ManagedFields = managed
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[cachetrim.LastAppliedAnnotation] = `{"kind":"Pod"}`
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		c.Command, c.Args = []string{"/app"}, []string{"--serve"}
		c.Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		c.LivenessProbe = &corev1.Probe{PeriodSeconds: 10}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Ready: true})
	}
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
	p.Status.PodIP, p.Status.PodIPs = "10.0.0.1", []corev1.PodIP{{IP: "10.0.0.1"}}
	// What admission and the kubelet add, and no reader needs.
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "kube-api-access-x1y2z", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}})
	p.Spec.ServiceAccountName, p.Spec.SchedulerName, p.Spec.DNSPolicy = "default", corev1.DefaultSchedulerName, corev1.DNSClusterFirst
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes}
	p.Spec.Containers[0].SecurityContext, p.Spec.Containers[0].ImagePullPolicy = &corev1.SecurityContext{RunAsNonRoot: &yes}, corev1.PullAlways
	p.Status.QOSClass, p.Status.StartTime = corev1.PodQOSBurstable, &metav1.Time{}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse})
	return p
}

func trimmed(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	out, err := cachetrim.Transform(p)
	if err != nil {
		panic(err)
	}
	return out.(*corev1.Pod)
}

func node(name, zone string, taints ...corev1.Taint) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("10")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, ManagedFields: managed,
			Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelTopologyZone: zone, "disk": "ssd"}},
		Spec: corev1.NodeSpec{Taints: taints, ProviderID: "aws:///" + zone + "/i-" + name},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
			Images:     []corev1.ContainerImage{{Names: []string{"registry.k8s.io/pause:3.10"}, SizeBytes: 1 << 20}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

// pod returns a pod of cpu labelled app=app, edited by opts.
func pod(name, app, cpu string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app},
			Annotations:     map[string]string{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app, UID: "u-" + "app"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func antiAffinity(key string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Labels["app"]}}}}}}
	}
}

// pendingPods cover every predicate the simulator models.
func pendingPods() []*corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return []*corev1.Pod{
		pod("plain", "web", "500m"),
		pod("big", "web", "1800m"),
		pod("anti-host", "db", "100m", antiAffinity(corev1.LabelHostname)),
		pod("anti-zone", "db", "100m", antiAffinity(corev1.LabelTopologyZone)),
		pod("spread", "web", "100m", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
		}),
		pod("affinity", "cache", "100m", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey: corev1.LabelTopologyZone, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}}
		}),
		pod("selector", "web", "100m", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"disk": "ssd", corev1.LabelTopologyZone: "b"}
		}),
		pod("tolerates", "web", "100m", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "tainted"}
		}),
		pod("host-port", "web", "100m", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}),
		pod("sidecar", "web", "100m", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}}
		}),
		pod("overhead", "web", "100m", func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1800m")}
		}),
		pod("claims", "web", "100m", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
		}),
	}
}

// snapshot builds a cluster of three nodes in two zones (one tainted) with
// bound pods, from nodes and pods passed through prep.
func snapshot(t *testing.T, prep func(*corev1.Pod) *corev1.Pod, prepNode func(*corev1.Node) *corev1.Node) *simulator.Snapshot {
	s := simulator.NewSnapshot()
	for _, n := range []*corev1.Node{node("a1", "a"), node("b1", "b"),
		node("tainted", "b", corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule})} {
		if err := s.AddNode(prepNode(n)); err != nil {
			t.Fatal(err)
		}
	}
	bound := map[string]*corev1.Pod{
		"a1": pod("db-0", "db", "500m", antiAffinity(corev1.LabelHostname), func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}),
		"b1": pod("web-0", "web", "1"),
	}
	for n, p := range bound {
		p.Spec.NodeName = n
		if err := s.AddPod(n, simulator.NewPod(simulator.PodInfo{Pod: prep(dressed(p)), VolumesResolved: true})); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestSimulatorVerdictsUnchanged runs the simulator on pods and nodes as the
// API server sends them and as the controllers' cache keeps them: every
// pending pod fits the same nodes for the same reasons, in the same class.
func TestSimulatorVerdictsUnchanged(t *testing.T) {
	keep := func(p *corev1.Pod) *corev1.Pod { return p }
	keepNode := func(n *corev1.Node) *corev1.Node { return n }
	trimNode := func(n *corev1.Node) *corev1.Node { n = n.DeepCopy(); cachetrim.Node(n); return n }
	full, small := snapshot(t, keep, keepNode), snapshot(t, trimmed, trimNode)
	for _, p := range pendingPods() {
		t.Run(p.Name, func(t *testing.T) {
			orig := dressed(p)
			cut := trimmed(orig)
			want := simulator.FitNodes(full, simulator.NewPod(simulator.PodInfo{Pod: orig}))
			got := simulator.FitNodes(small, simulator.NewPod(simulator.PodInfo{Pod: cut}))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("trimmed: %+v\nfull:    %+v", got, want)
			}
			if a, b := simulator.EquivalenceKey(cut), simulator.EquivalenceKey(orig); a != b {
				t.Errorf("equivalence key changed:\n%s\n%s", a, b)
			}
			if a, b := simulator.PodRequests(cut), simulator.PodRequests(orig); !reflect.DeepEqual(a, b) {
				t.Errorf("requests %v, want %v", a, b)
			}
		})
	}
	// The verdicts vary: the scenario exercises the predicates.
	fits := map[int]bool{}
	for _, p := range pendingPods() {
		fits[len(simulator.FitNodes(full, simulator.NewPod(simulator.PodInfo{Pod: p})).Fit)] = true
	}
	if len(fits) < 3 {
		t.Errorf("pending pods fit %v nodes: the scenario does not discriminate", fits)
	}
}

// TestTrimKeepsWhatReadersUse checks field by field what goes and what the
// other readers (scale-down, PDBs, unschedulable detection, node templates)
// still find.
func TestTrimKeepsWhatReadersUse(t *testing.T) {
	orig := dressed(pod("p", "web", "100m"))
	p := trimmed(orig)
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"managed fields dropped", p.ManagedFields == nil},
		{"last-applied dropped", p.Annotations[cachetrim.LastAppliedAnnotation] == ""},
		{"env, command, args, mounts, probes dropped", p.Spec.Containers[0].Env == nil && p.Spec.Containers[0].Command == nil &&
			p.Spec.Containers[0].Args == nil && p.Spec.Containers[0].VolumeMounts == nil && p.Spec.Containers[0].LivenessProbe == nil},
		{"ephemeral containers dropped", p.Spec.EphemeralContainers == nil},
		{"container statuses and IPs dropped", p.Status.ContainerStatuses == nil && p.Status.PodIP == "" && p.Status.PodIPs == nil},
		{"other annotations kept", p.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"},
		{"labels kept", reflect.DeepEqual(p.Labels, orig.Labels)},
		{"owner references kept", reflect.DeepEqual(p.OwnerReferences, orig.OwnerReferences)},
		{"phase and the PodScheduled condition kept", p.Status.Phase == orig.Status.Phase && reflect.DeepEqual(p.Status.Conditions, orig.Status.Conditions[:1])},
		{"other conditions, QoS class and start time dropped", len(p.Status.Conditions) == 1 && p.Status.QOSClass == "" && p.Status.StartTime == nil},
		{"service account token volume dropped", p.Spec.Volumes == nil},
		{"service account, scheduler name, DNS policy, security contexts, pull policy dropped", p.Spec.ServiceAccountName == "" && p.Spec.SchedulerName == "" &&
			p.Spec.DNSPolicy == "" && p.Spec.SecurityContext == nil && p.Spec.Containers[0].SecurityContext == nil && p.Spec.Containers[0].ImagePullPolicy == ""},
		{"image and resources kept", p.Spec.Containers[0].Image == "app:1" && reflect.DeepEqual(p.Spec.Containers[0].Resources, orig.Spec.Containers[0].Resources)},
		{"still a replicated pod to scale-down", !autoscaler.IsDaemonOrMirrorPod(p)},
	} {
		if !c.ok {
			t.Errorf("%s: no", c.what)
		}
	}
	vols := []corev1.Volume{
		{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
		{Name: "eph", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var"}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
	withVols := dressed(pod("v", "web", "100m", func(p *corev1.Pod) { p.Spec.Volumes = vols }))
	if got := trimmed(withVols).Spec.Volumes; !reflect.DeepEqual(got, vols) {
		t.Errorf("volumes scale-down and the simulator read: %+v, want %+v", got, vols)
	}
	n := node("n", "a")
	n.Annotations = map[string]string{cachetrim.LastAppliedAnnotation: "{}", "kelp.dev/x": "y"}
	out, _ := cachetrim.Transform(n.DeepCopy())
	tn := out.(*corev1.Node)
	if tn.ManagedFields != nil || tn.Status.Images != nil || tn.Annotations[cachetrim.LastAppliedAnnotation] != "" {
		t.Errorf("node not trimmed: %+v", tn)
	}
	want := n.DeepCopy()
	want.ManagedFields, want.Status.Images = nil, nil
	delete(want.Annotations, cachetrim.LastAppliedAnnotation)
	if !reflect.DeepEqual(tn, want) {
		t.Errorf("node lost more than managed fields, images and last-applied:\n%+v\nwant %+v", tn, want)
	}
	full := n.DeepCopy()
	full.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}
	full.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"}
	full.Status.VolumesInUse = []corev1.UniqueVolumeName{"vol"}
	out, _ = cachetrim.Transform(full)
	if got := out.(*corev1.Node); !reflect.DeepEqual(got, want) {
		t.Errorf("node kept addresses, system info or volumes:\n%+v\nwant %+v", got, want)
	}
}

// TestTransformOtherTypes: other objects lose only managed fields and
// kubectl's copy; what is not an object passes unchanged; a second pass
// changes nothing.
func TestTransformOtherTypes(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "x", Labels: map[string]string{"a": "b"}, ManagedFields: managed,
			Annotations: map[string]string{cachetrim.LastAppliedAnnotation: "{}", "k": "v"}}
	}
	for _, obj := range []metav1.Object{
		&appsv1.DaemonSet{ObjectMeta: meta(), Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "A"}}}}}}}},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta(), Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{}}},
		&corev1.Namespace{ObjectMeta: meta()},
	} {
		t.Run(fmt.Sprintf("%T", obj), func(t *testing.T) {
			out, err := cachetrim.Transform(obj)
			if err != nil || out != obj {
				t.Fatalf("Transform = %v, %v", out, err)
			}
			if obj.GetManagedFields() != nil || len(obj.GetAnnotations()) != 1 || obj.GetAnnotations()["k"] != "v" || obj.GetLabels()["a"] != "b" {
				t.Errorf("metadata %+v", obj)
			}
			if ds, ok := obj.(*appsv1.DaemonSet); ok && ds.Spec.Template.Spec.Containers[0].Env == nil {
				t.Error("a DaemonSet's pod template lost its env: its pods are built from it")
			}
		})
	}
	tomb := struct{ Key string }{"ns/x"}
	if out, err := cachetrim.Transform(tomb); err != nil || out != tomb {
		t.Errorf("a tombstone changed: %v, %v", out, err)
	}
	p := trimmed(dressed(pod("p", "web", "1")))
	if again := trimmed(p); !reflect.DeepEqual(again, p) {
		t.Error("Transform is not idempotent")
	}
}

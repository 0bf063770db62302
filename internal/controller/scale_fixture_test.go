package controller

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// The scale fixture: nodes of one managed group of scaleType (58 pods a
// node), each running scaleDaemons DaemonSet pods, and the other pods
// spread over the nodes from scaleTemplates Deployment templates.
const (
	scaleType      = "m5.xlarge"
	scaleZone      = "us-east-1a"
	scaleGroupID   = "kelp-bench-scale"
	scaleTemplates = 20
	scaleDaemons   = 2
	// scaleMissingSA is the service account the owners' templates name and
	// nobody creates: the ReplicaSet and DaemonSet controllers cannot
	// create pods of their own, so the owners exist (the garbage collector
	// keeps their pods) and the benchmark's pods are the only ones.
	scaleMissingSA = "kelp-bench-missing"
)

// scaleGroup is a managed group of n running instances of scaleType.
func scaleGroup(b *testing.B, n int) cloud.NodeGroup {
	it, err := catalog.Lookup(scaleType)
	if err != nil {
		b.Fatal(err)
	}
	typ := cloud.InstanceType{Name: it.Name, Architecture: it.Architecture.KubernetesArch(),
		Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: it.OnDemandPrice}
	g := cloud.NodeGroup{ID: scaleGroupID, Pool: "bench", MinSize: 0, MaxSize: 2 * n, TargetSize: n, Template: cloud.NodeTemplate{
		InstanceTypes: []cloud.InstanceType{typ}, CapacityType: catalog.CapacityTypeOnDemand, Zones: []string{scaleZone},
		Labels:   map[string]string{corev1.LabelTopologyZone: scaleZone, "kelp.dev/pool": "bench", corev1.LabelOSStable: "linux", corev1.LabelInstanceTypeStable: it.Name, corev1.LabelArchStable: typ.Architecture},
		Capacity: typ.Capacity, Allocatable: typ.Allocatable,
	}}
	for i := range n {
		id := fmt.Sprintf("i-0bench%012x", i)
		g.Instances = append(g.Instances, cloud.Instance{
			ID: id, ProviderID: "aws:///" + scaleZone + "/" + id, State: cloud.InstanceStateRunning, GroupName: scaleGroupID, Pool: "bench",
			InstanceType: it.Name, AvailabilityZone: scaleZone, PrivateDNSName: scaleNodeName(i),
			PrivateIPs: []string{scaleNodeIP(i)}, LaunchTime: time.Now().Add(-time.Hour),
		})
	}
	return g
}

func scaleNodeName(i int) string { return fmt.Sprintf("ip-10-90-%d-%d.ec2.internal", i/250, i%250+1) }
func scaleNodeIP(i int) string   { return fmt.Sprintf("10.90.%d.%d", i/250, i%250+1) }

// scaleNode is the Node a kubelet on inst registers, Ready.
func scaleNode(g cloud.NodeGroup, inst cloud.Instance) *corev1.Node {
	labels := map[string]string{corev1.LabelHostname: inst.PrivateDNSName, corev1.LabelTopologyRegion: "us-east-1",
		"node.kubernetes.io/capacity-type": "on-demand"}
	for k, v := range g.Template.Labels {
		labels[k] = v
	}
	now := metav1.Now()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: "kubelet says " + reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	var images []corev1.ContainerImage
	for i := range 12 {
		images = append(images, corev1.ContainerImage{Names: []string{fmt.Sprintf("registry.example.com/team/image-%d@sha256:%064x", i, i),
			fmt.Sprintf("registry.example.com/team/image-%d:v1.%d", i, i)}, SizeBytes: int64(i+1) << 24})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: inst.PrivateDNSName, Labels: labels,
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
		Spec: corev1.NodeSpec{ProviderID: inst.ProviderID},
		Status: corev1.NodeStatus{
			Capacity: g.Template.Capacity, Allocatable: g.Template.Allocatable,
			Conditions: []corev1.NodeCondition{cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"), cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: inst.PrivateIPs[0]},
				{Type: corev1.NodeHostName, Address: inst.PrivateDNSName}, {Type: corev1.NodeInternalDNS, Address: inst.PrivateDNSName}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{MachineID: inst.ID, SystemUUID: inst.ID, BootID: inst.ID, KernelVersion: "6.1.0", OSImage: "Amazon Linux 2023",
				ContainerRuntimeVersion: "containerd://1.7.0", KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64"},
			Images: images,
		},
	}
}

// scaleOwners creates the Deployment templates' ReplicaSets (replicas[t]
// pods each) and the DaemonSets, and returns their owner references.
func scaleOwners(ctx context.Context, client kubernetes.Interface, ns string, replicas []int) (rs, ds []metav1.OwnerReference, err error) {
	ref := func(kind string, m metav1.ObjectMeta) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: m.Name, UID: m.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	}
	for t := range scaleTemplates {
		tpl := scaleTemplate(t)
		tpl.Spec.ServiceAccountName = scaleMissingSA
		r := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: scaleRSName(t), Labels: tpl.Labels},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(replicas[t])), Selector: &metav1.LabelSelector{MatchLabels: tpl.Labels}, Template: tpl}}
		got, err := client.AppsV1().ReplicaSets(ns).Create(ctx, r, metav1.CreateOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("create replicaset %s: %w", r.Name, err)
		}
		rs = append(rs, ref("ReplicaSet", got.ObjectMeta))
	}
	for d := range scaleDaemons {
		tpl := scaleDaemonTemplate(d, "")
		tpl.Spec.ServiceAccountName, tpl.Spec.Affinity = scaleMissingSA, nil
		set := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: scaleDaemonName(d)},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": scaleDaemonName(d)}}, Template: tpl,
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}}
		got, err := client.AppsV1().DaemonSets(ns).Create(ctx, set, metav1.CreateOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("create daemonset %s: %w", set.Name, err)
		}
		ds = append(ds, ref("DaemonSet", got.ObjectMeta))
	}
	return rs, ds, nil
}

func scaleRSName(t int) string { return fmt.Sprintf("svc-%02d-%x", t, 0x6d5f8b7c9+t) }
func scaleDaemonName(d int) string {
	return []string{"node-exporter", "log-agent", "cni", "csi-node"}[d%4]
}

// scaleTemplate is Deployment template t: one or two containers with
// requests of 50m–145m cpu and 64–216Mi, environment, probes and ports.
func scaleTemplate(t int) corev1.PodTemplateSpec {
	app := fmt.Sprintf("svc-%02d", t)
	labels := map[string]string{"app": app, "team": fmt.Sprintf("team-%d", t%5), "version": "v1", "pod-template-hash": fmt.Sprintf("%x", 0x6d5f8b7c9+t)}
	main := scaleContainer(app, fmt.Sprintf("registry.example.com/team/%s:v1.%d.0", app, t), 50+5*t, 64+8*t)
	spec := corev1.PodSpec{Containers: []corev1.Container{main}, TerminationGracePeriodSeconds: ptr.To(int64(30)),
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: app + "-config"}}}}}}
	if t%2 == 0 {
		proxy := scaleContainer("proxy", "registry.example.com/mesh/proxy:v1.22", 20, 32)
		proxy.Ports = []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001, Protocol: corev1.ProtocolTCP}}
		spec.Containers = append(spec.Containers, proxy)
	}
	if t%4 == 1 {
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
			WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
	}
	if t%4 == 3 {
		spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}}}}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels,
		Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z"}}, Spec: spec}
}

func scaleContainer(name, image string, milliCPU, mib int) corev1.Container {
	env := make([]corev1.EnvVar, 8)
	for j := range env {
		env[j] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", j), Value: fmt.Sprintf("value-%d-of-some-length", j)}
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	return corev1.Container{
		Name: name, Image: image, Command: []string{"/" + name}, Args: []string{"--port=8080", "--log-level=info"}, Env: env,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(milliCPU), resource.DecimalSI), corev1.ResourceMemory: *resource.NewQuantity(int64(mib)<<20, resource.BinarySI)},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(int64(2*mib)<<20, resource.BinarySI)}},
		VolumeMounts:  []corev1.VolumeMount{{Name: "config", MountPath: "/etc/" + name}},
		LivenessProbe: probe, ReadinessProbe: probe, ImagePullPolicy: corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
}

// scaleDaemonTemplate is DaemonSet d's pod for node, with the
// tolerations and node affinity the DaemonSet controller gives its pods.
func scaleDaemonTemplate(d int, node string) corev1.PodTemplateSpec {
	name := scaleDaemonName(d)
	c := scaleContainer(name, fmt.Sprintf("registry.example.com/infra/%s:v2.%d", name, d), 10, 20)
	c.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(9100 + d), HostPort: int32(9100 + d), Protocol: corev1.ProtocolTCP}}
	exists := func(key string, effect corev1.TaintEffect) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{c}, PriorityClassName: "system-node-critical", HostNetwork: true,
		Tolerations: []corev1.Toleration{exists(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute), exists(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute),
			exists(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule), exists(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule),
			exists(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule), exists(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}},
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
		Labels: map[string]string{"app": name, "controller-revision-hash": fmt.Sprintf("%x", 0x7b9c5d4f8+d), "pod-template-generation": "1"}}, Spec: spec}
}

// scalePod is the i-th pod of a template on node: the template's metadata
// and spec, a generated name, its owner, bound to node.
func scalePod(tpl corev1.PodTemplateSpec, owner metav1.OwnerReference, i int, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05x", owner.Name, i), Labels: tpl.Labels, Annotations: tpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: func() corev1.PodSpec { s := tpl.Spec; s.NodeName = node; return s }(),
	}
}

// runningStatus gives p the status a kubelet reports for a running pod.
func runningStatus(p *corev1.Pod, nodeIP string, i int) {
	now := metav1.Now()
	ip := fmt.Sprintf("100.64.%d.%d", i/250%250, i%250+1)
	p.Status.Phase, p.Status.HostIP, p.Status.HostIPs = corev1.PodRunning, nodeIP, []corev1.HostIP{{IP: nodeIP}}
	p.Status.PodIP, p.Status.PodIPs, p.Status.StartTime = ip, []corev1.PodIP{{IP: ip}}, &now
	p.Status.Conditions, p.Status.ContainerStatuses = nil, nil
	for _, t := range []corev1.PodConditionType{"PodReadyToStartContainers", corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			ContainerID: fmt.Sprintf("containerd://%064x", i), Ready: true, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// parallel runs do(i) for i in [0, n) on workers goroutines and returns
// the first error.
func parallel(n, workers int, do func(i int) error) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// scaleLeases heartbeats the nodes' Leases until ctx ends, so that
// kube-controller-manager keeps them Ready (it taints a node whose lease
// is older than its grace period, 20 s on test control planes).
type scaleLeases struct {
	client kubernetes.Interface
	nodes  []string
	mu     sync.Mutex
	leases map[string]*coordinationv1.Lease
}

// renew renews node i's Lease, creating it when create is set.
func (l *scaleLeases) renew(ctx context.Context, i int, create bool) error {
	name := l.nodes[i]
	l.mu.Lock()
	lease := l.leases[name]
	l.mu.Unlock()
	if lease == nil && !create {
		return nil // its Node is not created yet
	}
	leases := l.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	var err error
	if lease == nil {
		lease, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr.To(int32(40)), RenewTime: &metav1.MicroTime{Time: time.Now()}}}, metav1.CreateOptions{})
	} else {
		lease = lease.DeepCopy()
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", name, err)
	}
	l.mu.Lock()
	l.leases[name] = lease
	l.mu.Unlock()
	return nil
}

// run renews every lease every period until ctx ends, reporting failures
// to b.
func (l *scaleLeases) run(ctx context.Context, b *testing.B, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := parallel(len(l.nodes), 16, func(i int) error { return l.renew(ctx, i, false) }); err != nil && ctx.Err() == nil {
			b.Logf("heartbeat: %v", err)
		}
	}
}

package localcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// awsCLI runs the AWS CLI against the endpoint and returns its stdout; the
// test fails if aws is not installed.
type awsCLI struct {
	t        *testing.T
	path     string
	endpoint string
	env      []string
}

func newAWSCLI(t *testing.T, endpoint string) *awsCLI {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI (aws) is not on PATH: install awscli (pip install awscli, or apt-get install awscli) "+
			"to run this compatibility test: %v", err)
	}
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+AccessKeyID, "AWS_SECRET_ACCESS_KEY="+SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"))
	return &awsCLI{t: t, path: path, endpoint: endpoint, env: env}
}

// run runs aws with args and returns stdout, stderr and the error.
func (a *awsCLI) run(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append(append([]string{}, args...), "--endpoint-url", a.endpoint, "--output", "json")
	cmd := exec.CommandContext(ctx, a.path, full...)
	cmd.Env = a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// json runs aws and decodes its JSON output (an empty output decodes to an
// empty map).
func (a *awsCLI) json(args ...string) map[string]any {
	a.t.Helper()
	stdout, stderr, err := a.run(args...)
	if err != nil {
		a.t.Fatalf("aws %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	out := map[string]any{}
	if strings.TrimSpace(stdout) == "" {
		return out
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		a.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
	return out
}

// dig walks decoded JSON by map keys and list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("dig %v: %T is not an object", path, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("dig %v: %v has no element %d", path, v, k)
			}
			v = l[k]
		}
	}
	return v
}

func TestAWSCLICompatibility(t *testing.T) {
	e := newEnv(t)
	cli := newAWSCLI(t, e.srv.URL)

	lt := cli.json("ec2", "create-launch-template", "--launch-template-name", "cli-template",
		"--launch-template-data", `{"ImageId":"`+ImageLocalNode+`","InstanceType":"m5.large","UserData":"I2Nsb3VkLWNvbmZpZwo="}`)
	ltID, _ := dig(t, lt, "LaunchTemplate", "LaunchTemplateId").(string)
	if !strings.HasPrefix(ltID, "lt-") || dig(t, lt, "LaunchTemplate", "LatestVersionNumber") != float64(1) {
		t.Fatalf("create-launch-template: %v", lt)
	}

	cli.json("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "cli-group",
		"--launch-template", "LaunchTemplateId="+ltID+",Version=$Latest", "--min-size", "0", "--max-size", "5",
		"--desired-capacity", "0", "--availability-zones", "us-east-1a", "us-east-1b",
		"--tags", "Key=team,Value=kelp,PropagateAtLaunch=true")
	cli.json("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "cli-group", "--desired-capacity", "2")
	e.waitSettled("cli-group", 2)

	groups := cli.json("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli-group")
	g := dig(t, groups, "AutoScalingGroups", 0)
	if dig(t, g, "DesiredCapacity") != float64(2) || len(dig(t, g, "Instances").([]any)) != 2 ||
		dig(t, g, "Instances", 0, "LifecycleState") != "InService" || dig(t, g, "Tags", 0, "Key") != "team" ||
		dig(t, g, "LaunchTemplate", "LaunchTemplateId") != ltID {
		t.Fatalf("describe-auto-scaling-groups: %v", groups)
	}
	firstID := dig(t, g, "Instances", 0, "InstanceId").(string)

	insts := cli.json("ec2", "describe-instances", "--filters", "Name=tag:aws:autoscaling:groupName,Values=cli-group",
		"Name=instance-state-name,Values=running")
	res := dig(t, insts, "Reservations").([]any)
	if len(res) != 2 {
		t.Fatalf("describe-instances: want 2 reservations: %v", insts)
	}
	inst := dig(t, res[0], "Instances", 0)
	dns, _ := dig(t, inst, "PrivateDnsName").(string)
	ip, _ := dig(t, inst, "PrivateIpAddress").(string)
	if !strings.HasSuffix(dns, ".ec2.internal") || !strings.HasPrefix(ip, "127.") || dig(t, inst, "State", "Name") != "running" ||
		dig(t, inst, "InstanceType") != "m5.large" || dig(t, inst, "ImageId") != ImageLocalNode {
		t.Fatalf("describe-instances: %v", inst)
	}

	types := cli.json("ec2", "describe-instance-types", "--instance-types", "m5.large")
	it := dig(t, types, "InstanceTypes", 0)
	if dig(t, it, "VCpuInfo", "DefaultVCpus") != float64(2) || dig(t, it, "MemoryInfo", "SizeInMiB") != float64(8192) ||
		dig(t, it, "NetworkInfo", "MaximumNetworkInterfaces") != float64(3) {
		t.Fatalf("describe-instance-types: %v", types)
	}

	images := cli.json("ec2", "describe-images", "--image-ids", ImageLocalNode)
	if dig(t, images, "Images", 0, "Name") != "kelp-local-node" || dig(t, images, "Images", 0, "Architecture") != "x86_64" {
		t.Fatalf("describe-images: %v", images)
	}

	term := cli.json("autoscaling", "terminate-instance-in-auto-scaling-group", "--instance-id", firstID,
		"--should-decrement-desired-capacity")
	if desc, _ := dig(t, term, "Activity", "Description").(string); !strings.Contains(desc, firstID) {
		t.Fatalf("terminate-instance-in-auto-scaling-group: %v", term)
	}
	e.waitSettled("cli-group", 1)
	groups = cli.json("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli-group")
	if dig(t, groups, "AutoScalingGroups", 0, "DesiredCapacity") != float64(1) {
		t.Fatalf("after terminate with decrement: %v", groups)
	}

	_, stderr, err := cli.run("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "cli-group", "--desired-capacity", "99")
	if err == nil || !strings.Contains(stderr, "ValidationError") {
		t.Fatalf("set-desired-capacity above max: err %v, stderr %q; want a ValidationError", err, stderr)
	}
}

func TestAWSCLILifecycleHooks(t *testing.T) {
	e := newEnv(t)
	cli := newAWSCLI(t, e.srv.URL)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 2)
	e.waitSettled("g", 2)

	cli.json("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain",
		"--lifecycle-transition", "autoscaling:EC2_INSTANCE_TERMINATING", "--heartbeat-timeout", "30",
		"--default-result", "CONTINUE", "--notification-metadata", "kelp")
	hooks := cli.json("autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", "g", "--lifecycle-hook-names", "drain")
	if dig(t, hooks, "LifecycleHooks", 0, "HeartbeatTimeout") != float64(30) || dig(t, hooks, "LifecycleHooks", 0, "GlobalTimeout") != float64(3000) ||
		dig(t, hooks, "LifecycleHooks", 0, "DefaultResult") != "CONTINUE" || dig(t, hooks, "LifecycleHooks", 0, "NotificationMetadata") != "kelp" {
		t.Fatalf("describe-lifecycle-hooks: %v", hooks)
	}

	cli.json("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "g", "--desired-capacity", "1")
	var leaving string
	testenv.EventuallyTrue(t, waitTimeout, "an instance in Terminating:Wait", func() bool {
		insts := cli.json("autoscaling", "describe-auto-scaling-instances")
		for _, i := range dig(t, insts, "AutoScalingInstances").([]any) {
			if dig(t, i, "LifecycleState") == "Terminating:Wait" {
				leaving = dig(t, i, "InstanceId").(string)
				return true
			}
		}
		return false
	})
	acts := cli.json("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "g")
	found := false
	for _, a := range dig(t, acts, "Activities").([]any) {
		if dig(t, a, "Description") == "Terminating EC2 instance: "+leaving {
			found = dig(t, a, "StatusCode") == "MidLifecycleAction"
		}
	}
	if !found {
		t.Fatalf("describe-scaling-activities: no MidLifecycleAction termination of %s: %v", leaving, acts)
	}
	cli.json("autoscaling", "record-lifecycle-action-heartbeat", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain",
		"--instance-id", leaving)
	cli.json("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain",
		"--instance-id", leaving, "--lifecycle-action-result", "CONTINUE")
	e.waitTerminated(leaving)
	_, stderr, err := cli.run("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain",
		"--instance-id", leaving, "--lifecycle-action-result", "CONTINUE")
	if err == nil || !strings.Contains(stderr, "ValidationError") || !strings.Contains(stderr, "No active Lifecycle Action") {
		t.Fatalf("complete-lifecycle-action twice: err %v, stderr %q", err, stderr)
	}
	_, stderr, err = cli.run("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain",
		"--heartbeat-timeout", "10")
	if err == nil || !strings.Contains(stderr, "ValidationError") {
		t.Fatalf("put-lifecycle-hook with a 10 s heartbeat: err %v, stderr %q", err, stderr)
	}
	cli.json("autoscaling", "delete-lifecycle-hook", "--auto-scaling-group-name", "g", "--lifecycle-hook-name", "drain")
	hooks = cli.json("autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", "g")
	if len(dig(t, hooks, "LifecycleHooks").([]any)) != 0 {
		t.Fatalf("after delete-lifecycle-hook: %v", hooks)
	}
}

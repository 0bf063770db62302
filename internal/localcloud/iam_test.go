package localcloud

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// iamTestPolicy lets its caller describe, scale groups tagged team=a,
// create templates only with the tag team=a (and tag them so on create
// only), version templates tagged
// team=a, use queue q-a and no rule; and never delete a group.
const iamTestPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["autoscaling:Describe*", "ec2:Describe*"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:DeleteAutoScalingGroup"],
     "Resource": "arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:*:autoScalingGroupName/*",
     "Condition": {"StringEquals": {"autoscaling:ResourceTag/team": "a"}}},
    {"Effect": "Allow", "Action": "ec2:CreateLaunchTemplate", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": "a"}}},
    {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": "a", "ec2:CreateAction": "CreateLaunchTemplate"}}},
    {"Effect": "Allow", "Action": "ec2:CreateLaunchTemplateVersion", "Resource": "arn:aws:ec2:REGION:ACCOUNT:launch-template/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}},
    {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:REGION:ACCOUNT:q-a"},
    {"Effect": "Deny", "Action": "autoscaling:DeleteAutoScalingGroup", "Resource": "*"}
  ]
}`

var teamUser = Principal{Name: "team-a", ARN: "arn:aws:iam::" + AccountID + ":user/team-a",
	AccessKeyID: "AKIATEAMA00000000000", SecretAccessKey: "teamSecret"}

// statusOf is the HTTP status an SDK error came with.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestPoliciesOverTheWire(t *testing.T) {
	policy, err := ParsePolicy("team-a", iamTestPolicy, map[string]string{"REGION": DefaultRegion, "ACCOUNT": AccountID})
	if err != nil {
		t.Fatal(err)
	}
	u := teamUser
	u.Authorizer = Policies{policy}
	e := newEnv(t, func(o *Options) { o.Principals = []Principal{u} })
	team := func(v string) astypes.Tag { return astypes.Tag{Key: aws.String("team"), Value: aws.String(v)} }
	tplA := e.createTemplate("tpl", "m5.large", ImageLocalNode)
	e.createGroup("ga", tplA, 0, 3, 0, team("a"))
	e.createGroup("gb", tplA, 0, 3, 0, team("b"))
	e.createGroup("untagged", tplA, 0, 3, 0)

	cfg := aws.Config{Region: DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, "")}
	as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })

	if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
		t.Fatalf("describe: %v", err)
	}
	scale := func(name string) error {
		_, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(1)})
		return err
	}
	if err := scale("ga"); err != nil {
		t.Fatalf("scale a group tagged team=a: %v", err)
	}
	gbARN := aws.ToString(e.group("gb").AutoScalingGroupARN)
	for _, name := range []string{"gb", "untagged"} {
		err := scale(name)
		wantCode(t, err, "AccessDenied")
		testenv.ErrorContains(t, err, "User: "+u.ARN+" is not authorized to perform: autoscaling:SetDesiredCapacity on resource: arn:aws:autoscaling:",
			"autoScalingGroupName/"+name+" because no identity-based policy allows the autoscaling:SetDesiredCapacity action")
		if statusOf(err) != http.StatusForbidden {
			t.Errorf("scale %s: status %d, want 403", name, statusOf(err))
		}
	}
	testenv.ErrorContains(t, scale("gb"), gbARN)
	_, err = as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("ga")})
	testenv.ErrorContains(t, err, "AccessDenied", "autoscaling:DeleteAutoScalingGroup", "with an explicit deny in an identity-based policy")
	_, err = as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("ga"), MaxSize: aws.Int32(4)})
	testenv.ErrorContains(t, err, "AccessDenied", "autoscaling:UpdateAutoScalingGroup")

	createTpl := func(name string, tags ...ec2types.Tag) error {
		in := &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name), LaunchTemplateData: e.templateData("m5.large")}
		if len(tags) > 0 {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}
		}
		_, err := ec.CreateLaunchTemplate(ctx, in)
		return err
	}
	ec2Team := func(v string) ec2types.Tag { return ec2types.Tag{Key: aws.String("team"), Value: aws.String(v)} }
	if err := createTpl("mine", ec2Team("a")); err != nil {
		t.Fatalf("create a template tagged team=a: %v", err)
	}
	for _, tags := range [][]ec2types.Tag{nil, {ec2Team("b")}} {
		err := createTpl("other", tags...)
		wantCode(t, err, "UnauthorizedOperation")
		testenv.ErrorContains(t, err, "You are not authorized to perform this operation. User: "+u.ARN+
			" is not authorized to perform: ec2:CreateLaunchTemplate on resource: arn:aws:ec2:us-east-1:"+AccountID+
			":launch-template/* because no identity-based policy allows the ec2:CreateLaunchTemplate action")
		if statusOf(err) != http.StatusForbidden {
			t.Errorf("create template: status %d, want 403", statusOf(err))
		}
	}
	_, err = ec.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{tplA}, Tags: []ec2types.Tag{ec2Team("a")}})
	testenv.ErrorContains(t, err, "UnauthorizedOperation", "ec2:CreateTags on resource: arn:aws:ec2:us-east-1:"+AccountID+":launch-template/"+tplA)
	version := func(name string) error {
		_, err := ec.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateName: aws.String(name),
			SourceVersion: aws.String("$Latest"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: "m5.xlarge"}})
		return err
	}
	if err := version("mine"); err != nil {
		t.Fatalf("version a template tagged team=a: %v", err)
	}
	err = version("tpl")
	testenv.ErrorContains(t, err, "UnauthorizedOperation", "ec2:CreateLaunchTemplateVersion on resource: arn:aws:ec2:us-east-1:"+AccountID+":launch-template/"+tplA)
	_, err = ec.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	testenv.ErrorContains(t, err, "UnauthorizedOperation", "ec2:TerminateInstances on resource: arn:aws:ec2:us-east-1:"+AccountID+":instance/i-0123456789abcdef0")

	if _, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q-a")}); err != nil {
		t.Fatalf("create queue q-a: %v", err)
	}
	_, err = sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q-b")})
	wantCode(t, err, "AccessDenied")
	testenv.ErrorContains(t, err, "sqs:CreateQueue on resource: arn:aws:sqs:us-east-1:"+AccountID+":q-b")
	if statusOf(err) != http.StatusForbidden {
		t.Errorf("create queue: status %d, want 403", statusOf(err))
	}
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["aws.ec2"]}`)})
	wantCode(t, err, "AccessDeniedException")
	testenv.ErrorContains(t, err, "events:PutRule on resource: arn:aws:events:us-east-1:"+AccountID+":rule/r because")
	_, err = eb.ListRules(ctx, &eventbridge.ListRulesInput{})
	testenv.ErrorContains(t, err, "is not authorized to perform: events:ListRules because no identity-based policy allows")
	// The account's own keys may still do everything.
	if _, err := e.as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("gb")}); err != nil {
		t.Fatalf("root: %v", err)
	}
}

func TestLoadPrincipals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("team.json", iamTestPolicy)
	write("notapolicy.json", `{"Statement": []}`)
	path := write("principals.yaml", `principals:
- name: team-a
  accessKeyID: AKIATEAMA00000000000
  secretAccessKey: s
  policies: [team.json]
  replace: {REGION: us-east-1, ACCOUNT: "000000000000"}
`)
	ps, err := LoadPrincipals(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ARN != "arn:aws:iam::000000000000:user/team-a" || len(ps[0].Authorizer.(Policies)) != 1 {
		t.Fatalf("LoadPrincipals = %+v", ps)
	}
	err = ps[0].Authorizer.Authorize(Access{Principal: ps[0], Service: "autoscaling", Action: "SetDesiredCapacity",
		Resources: []Resource{{ARN: "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/g",
			Tags: map[string]string{"team": "a"}}}})
	if err != nil {
		t.Errorf("the placeholders were not replaced: %v", err)
	}
	bad := write("bad.yaml", `principals:
- name: x
  accessKeyID: `+AccessKeyID+`
  secretAccessKey: s
  policies: [missing.json]
- accessKeyID: ""
  policies: []
- name: yy
  accessKeyID: AKIAY
  secretAccessKey: s
  policies: [notapolicy.json]
`)
	_, err = LoadPrincipals(bad)
	testenv.ErrorContains(t, err, "principal 1 (x)", "missing.json", "principal 2 ()", "name is required",
		"accessKeyID and secretAccessKey are required", "at least one policy", "principal 3 (yy)", `Version ""`)
	_, err = LoadPrincipals(write("typo.yaml", "principal: []\n"))
	testenv.ErrorContains(t, err, "typo.yaml", "principal")
}

// TestPoliciesDependentActions: creating a tagged template also needs
// ec2:CreateTags, and a group from a template ec2:RunInstances, as on AWS.
func TestPoliciesDependentActions(t *testing.T) {
	policy, err := ParsePolicy("create", `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": ["ec2:CreateLaunchTemplate", "autoscaling:CreateAutoScalingGroup"], "Resource": "*"}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := teamUser
	u.Authorizer = Policies{policy}
	e := newEnv(t, func(o *Options) { o.Principals = []Principal{u} })
	cfg := aws.Config{Region: DefaultRegion, Credentials: credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, "")}
	as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	_, err = ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("tagged"),
		LaunchTemplateData: e.templateData("m5.large"), TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}})
	testenv.ErrorContains(t, err, "UnauthorizedOperation", "ec2:CreateTags on resource: arn:aws:ec2:us-east-1:"+AccountID+":launch-template/*")
	out, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("untagged"),
		LaunchTemplateData: e.templateData("m5.large")})
	if err != nil {
		t.Fatalf("an untagged template needs no ec2:CreateTags: %v", err)
	}
	id := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
	_, err = as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"),
		LaunchTemplate: templateSpecOf(id), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}})
	testenv.ErrorContains(t, err, "ValidationError", "You are not authorized to use launch template: "+id, "ec2:RunInstances on resource: arn:aws:ec2:us-east-1:"+AccountID+":launch-template/"+id)
}

// TestEveryActionHasItsScope: every action that acts on a resource says
// which (authz.go); only Describe* and List* actions take none, as in
// AWS's service authorization reference.
func TestEveryActionHasItsScope(t *testing.T) {
	e := newEnv(t)
	for _, svc := range e.cloud.services.ordered {
		for action := range svc.actions {
			_, listed := scopes[svc.signingName][action]
			if svc.noPermission[action] {
				if listed {
					t.Errorf("%s:%s needs no permission: it has no scope", svc.signingName, action)
				}
				continue
			}
			readsAll := strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "List")
			switch {
			case !listed && !readsAll:
				t.Errorf("%s:%s has no row in scopes: a policy could not name its resource", svc.signingName, action)
			case listed && readsAll && action != "DescribeRule" && action != "ListTargetsByRule":
				t.Errorf("%s:%s reads every resource: it takes none", svc.signingName, action)
			}
		}
	}
	for service, rows := range scopes {
		for action := range rows {
			if svc := e.cloud.services.bySigning[service]; svc == nil || svc.actions[action] == nil {
				t.Errorf("scopes lists %s:%s, which the cloud does not serve", service, action)
			}
		}
	}
}

package localcloud

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPassRoleOfTheTemplatesProfile: a group from a template naming an
// instance profile needs iam:PassRole on the profile's role, passed to
// ec2.amazonaws.com, as on AWS; the policy's condition is checked.
func TestPassRoleOfTheTemplatesProfile(t *testing.T) {
	const base = `{"Effect": "Allow", "Action": ["ec2:CreateLaunchTemplate", "ec2:RunInstances", "autoscaling:CreateAutoScalingGroup"], "Resource": "*"}`
	for _, tt := range []struct {
		name, passRole, want string
	}{
		{"no PassRole", "", "iam:PassRole on resource: " + RoleARN("kelp-node") + " because no identity-based policy allows"},
		{"PassRole to another service", `,{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
			"Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}`, "iam:PassRole on resource: " + RoleARN("kelp-node")},
		{"PassRole of another role", `,{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "` + RoleARN("other") + `"}`, "iam:PassRole"},
		{"PassRole to EC2", `,{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "` + RoleARN("kelp-node") + `",
			"Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			policy, err := ParsePolicy("p", `{"Version": "2012-10-17", "Statement": [`+base+tt.passRole+`]}`, nil)
			if err != nil {
				t.Fatal(err)
			}
			u := teamUser
			u.Authorizer = Policies{policy}
			e := newEnv(t, func(o *Options) {
				o.Principals = []Principal{u}
				o.Roles = []Role{{Name: "kelp-node"}, {Name: "other"}}
				o.InstanceProfiles = []InstanceProfile{{Name: "kelp-node", Role: "kelp-node"}}
			})
			cfg := aws.Config{Region: DefaultRegion, Credentials: credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, "")}
			as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
			ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
			data := e.templateData("m5.large")
			data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("kelp-node")}
			out, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("with-profile"), LaunchTemplateData: data})
			if err != nil {
				t.Fatalf("creating a template does not pass its role: %v", err)
			}
			id := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
			_, err = as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("g"),
				LaunchTemplate: templateSpecOf(id), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CreateAutoScalingGroup: %v", err)
				}
				return
			}
			testenv.ErrorContains(t, err, "ValidationError", "You are not authorized to use launch template: "+id, tt.want)
		})
	}
}

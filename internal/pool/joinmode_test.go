package pool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func identitySpec() pool.Spec {
	s := generalSpec()
	s.Name = "secure"
	s.InstanceProfile = "kelp-node"
	s.Join = pool.Join{Mode: pool.JoinModeIdentity}
	return s
}

func TestSpecJoinValidation(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:instance-profile/nodes/kelp-node"
	tests := []struct {
		name   string
		change func(*pool.Spec)
		want   string // "" valid
	}{
		{"token by default", func(s *pool.Spec) {}, ""},
		{"a profile in token mode", func(s *pool.Spec) { s.InstanceProfile = "kelp-node" }, ""},
		{"identity with a profile name", func(s *pool.Spec) { *s = identitySpec() }, ""},
		{"identity with a profile ARN", func(s *pool.Spec) { *s = identitySpec(); s.InstanceProfile = arn }, ""},
		{"identity with a gov-cloud ARN", func(s *pool.Spec) {
			*s = identitySpec()
			s.InstanceProfile = "arn:aws-us-gov:iam::123456789012:instance-profile/kelp-node"
		}, ""},
		{"identity with an endpoint", func(s *pool.Spec) {
			*s = identitySpec()
			s.Join.Endpoint = "https://kelp-join.example.com:30443"
		}, ""},
		{"identity without a profile (the caller's to fill)", func(s *pool.Spec) { *s = identitySpec(); s.InstanceProfile = "" }, ""},
		{"a profile with a space", func(s *pool.Spec) { s.InstanceProfile = "kelp node" }, `instanceProfile "kelp node": want an instance profile name`},
		{"a role ARN", func(s *pool.Spec) { s.InstanceProfile = "arn:aws:iam::123456789012:role/kelp-node" }, "instanceProfile \"arn:aws:iam::123456789012:role/kelp-node\""},
		{"unknown mode", func(s *pool.Spec) { s.Join.Mode = "magic" }, `join.mode "magic": want token or identity`},
		{"endpoint in token mode", func(s *pool.Spec) { s.Join.Endpoint = "https://kelp:30443" }, "endpoint and endpointCAFile are for mode identity only"},
		{"http endpoint", func(s *pool.Spec) { *s = identitySpec(); s.Join.Endpoint = "http://kelp:30443" }, `join.endpoint "http://kelp:30443": want https://`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := generalSpec()
			tt.change(&s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

func TestJoinTagAndProfileOnTheTemplate(t *testing.T) {
	for _, tt := range []struct {
		spec pool.Spec
		want string
	}{{generalSpec(), "token"}, {identitySpec(), "identity"}} {
		lt := pool.LaunchTemplateSpec("prod", tt.spec, nil)
		if lt.InstanceProfile != tt.spec.InstanceProfile {
			t.Errorf("%s: launch template profile %q, want %q", tt.spec.Name, lt.InstanceProfile, tt.spec.InstanceProfile)
		}
		tags := map[string]string{}
		for _, tag := range lt.Tags {
			tags[tag.Key] = tag.Value
		}
		if tags[pool.JoinTag] != tt.want {
			t.Errorf("%s: launch template tag %s=%q, want %q", tt.spec.Name, pool.JoinTag, tags[pool.JoinTag], tt.want)
		}
		found := false
		for _, tag := range pool.GroupTags("prod", tt.spec) {
			if tag.Key == pool.JoinTag {
				found = tag.Value == tt.want && tag.Propagate
			}
		}
		if !found {
			t.Errorf("%s: group lacks %s=%s (propagated)", tt.spec.Name, pool.JoinTag, tt.want)
		}
	}
}

func TestParseConfigJoin(t *testing.T) {
	doc := `join: {mode: identity, endpoint: "https://kelp-join.example.com:30443"}
pools:
- {name: a, instanceTypes: [m5.large], maxSize: 1, instanceProfile: kelp-node}
- {name: b, instanceTypes: [m5.large], maxSize: 1, join: {mode: token}}
`
	c, err := pool.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Pools[0].Join; got.Mode != pool.JoinModeIdentity || got.Endpoint != "https://kelp-join.example.com:30443" {
		t.Errorf("pool a took join %+v, want the cluster's", got)
	}
	if got := c.Pools[1].Join; got != (pool.Join{Mode: pool.JoinModeToken}) {
		t.Errorf("pool b's own join became %+v", got)
	}
	for _, tt := range []struct{ name, doc, want string }{
		{"cluster-level unknown mode", "join: {mode: trust-me}\npools: []\n", `cluster-level join.mode "trust-me"`},
		{"unknown join key", "pools:\n- {name: a, instanceTypes: [m5.large], maxSize: 1, join: {mode: identity, token: x}}\n", `unknown field "token"`},
		{"bad profile", "pools:\n- {name: a, instanceTypes: [m5.large], maxSize: 1, instanceProfile: 'a b'}\n", `instanceProfile "a b"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.ParseConfig([]byte(tt.doc))
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

func identityJoin(t *testing.T) pool.IdentityJoinUserData {
	return pool.IdentityJoinUserData{
		Join: userdata.IdentityJoin{Endpoint: "https://kelp-join.example.com:30443", EndpointCA: testCAPEM(t),
			Server: "https://10.0.0.1:6443", ServerCA: testCAPEM(t)},
		Template: userdata.Input{Profile: userdata.ProfileLocal, ClusterName: "prod"},
	}
}

func TestIdentityJoinUserData(t *testing.T) {
	j := identityJoin(t)
	data, err := j.UserData(context.Background(), identitySpec())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := userdata.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := userdata.BootstrapToken(doc); !errors.Is(err, userdata.ErrNoBootstrapToken) {
		t.Errorf("identity user-data has a bootstrap token (err %v)", err)
	}
	paths := []string{}
	for _, f := range doc.WriteFiles {
		paths = append(paths, f.Path)
	}
	if !strings.Contains(strings.Join(paths, " "), userdata.LocalJoinConfigPath) {
		t.Errorf("files %v: no %s", paths, userdata.LocalJoinConfigPath)
	}

	tokenPool := generalSpec()
	testenv.ErrorContains(t, j.Validate(tokenPool), "pool general: join mode is token, not identity",
		"pool general: the identity join needs an instance profile")
	withAuth := j
	withAuth.Template.RegistryAuth = []byte(`{"auths":{}}`)
	testenv.ErrorContains(t, withAuth.Validate(identitySpec()), "registryAuth: Forbidden")
	// A token join refuses an identity pool: its tag says it carries no token.
	_, err = tokenJoin(t, &fakeTokens{}).Render(context.Background(), identitySpec())
	testenv.ErrorContains(t, err, "pool secure joins by identity")
}

// TestIdentityPool creates an identity pool on the local cloud: its group
// and template say identity, the template names the instance profile (by
// name, then by ARN after an update), describe shows it, and token
// rotation finds nothing to rotate and writes no version.
func TestIdentityPool(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	tokens := &fakeTokens{}
	m := pool.New("prod", pool.Deps{Cloud: env.provider, Tokens: tokens})
	ctx := context.Background()
	p, err := m.Create(ctx, identitySpec(), identityJoin(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Join != pool.JoinModeIdentity {
		t.Errorf("created pool's join %q", p.Join)
	}
	wantProfile := func(want string) {
		t.Helper()
		d, err := m.Describe(ctx, "secure")
		if err != nil {
			t.Fatal(err)
		}
		if d.InstanceProfile != want || d.Join != pool.JoinModeIdentity {
			t.Errorf("describe: profile %q join %q, want %q identity", d.InstanceProfile, d.Join, want)
		}
		out, err := env.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
			LaunchTemplateName: aws.String("kelp-prod-secure"), Versions: []string{"$Latest"}})
		if err != nil {
			t.Fatal(err)
		}
		ip := out.LaunchTemplateVersions[0].LaunchTemplateData.IamInstanceProfile
		if ip == nil || aws.ToString(ip.Name)+aws.ToString(ip.Arn) != want {
			t.Errorf("launch template IamInstanceProfile %+v, want %s", ip, want)
		}
	}
	wantProfile("kelp-node")
	groups, err := env.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"kelp-prod-secure"}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("describe group: %v", err)
	}
	tagged := false
	for _, tag := range groups.AutoScalingGroups[0].Tags {
		tagged = tagged || aws.ToString(tag.Key) == pool.JoinTag && aws.ToString(tag.Value) == "identity" && aws.ToBool(tag.PropagateAtLaunch)
	}
	if !tagged {
		t.Errorf("group tags %v: no %s=identity propagated", groups.AutoScalingGroups[0].Tags, pool.JoinTag)
	}

	if _, err := m.JoinToken(ctx, "secure"); !errors.Is(err, pool.ErrNoJoinToken) {
		t.Errorf("JoinToken of an identity pool: %v, want ErrNoJoinToken", err)
	}
	if _, err := m.RotateToken(ctx, "secure", bootstrap.TokenSpec{TTL: time.Hour}); !errors.Is(err, pool.ErrNoJoinToken) {
		t.Errorf("RotateToken of an identity pool: %v, want ErrNoJoinToken", err)
	}
	if len(tokens.specs) != 0 {
		t.Errorf("tokens issued for an identity pool: %+v", tokens.specs)
	}
	const arn = "arn:aws:iam::" + localcloud.AccountID + ":instance-profile/kelp-node-2"
	if _, err := m.Update(ctx, "secure", pool.Update{InstanceProfile: arn}); err != nil {
		t.Fatal(err)
	}
	wantProfile(arn)
	_, err = m.Update(ctx, "secure", pool.Update{InstanceProfile: "not a profile"})
	testenv.ErrorContains(t, err, `instanceProfile "not a profile"`)

	// No profile, a profile that does not exist, or one that holds no role,
	// is refused before anything is created.
	noProfile := identitySpec()
	noProfile.Name, noProfile.InstanceProfile = "bad", ""
	_, err = m.Create(ctx, noProfile, pool.StaticUserData("#cloud-config\n"))
	testenv.ErrorContains(t, err, "invalid pool: pool bad: join mode identity needs instanceProfile")
	for profile, want := range map[string]string{"missing": "instance profile missing does not exist", "empty": "instance profile empty holds no role"} {
		s := identitySpec()
		s.Name, s.InstanceProfile = "bad-"+profile, profile
		_, err := m.Create(ctx, s, identityJoin(t))
		if !errors.Is(err, pool.ErrInstanceProfile) {
			t.Errorf("create with profile %s: %v, want ErrInstanceProfile", profile, err)
		}
		testenv.ErrorContains(t, err, want)
		if _, err := env.provider.DescribeLaunchTemplate(ctx, "kelp-prod-bad-"+profile); err == nil {
			t.Errorf("a launch template was left for profile %s", profile)
		}
	}
	_, err = m.Update(ctx, "secure", pool.Update{InstanceProfile: "missing"})
	testenv.ErrorContains(t, err, "instance profile missing does not exist")
}

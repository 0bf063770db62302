package localup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// DefaultPoolTokenTTL is the lifetime of the bootstrap token baked into a
// pool's launch template; the controller rotates it before it expires.
const DefaultPoolTokenTTL = 24 * time.Hour

// localCredentials are the local cloud's static keys.
func localCredentials() credentials.StaticCredentialsProvider {
	return credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")
}

// controllerCredentials are the keys the in-process controller signs
// with: those of Config.ControllerPrincipal, else the static keys.
func (c *Cluster) controllerCredentials() (credentials.StaticCredentialsProvider, error) {
	if c.cfg.ControllerPrincipal == "" {
		return localCredentials(), nil
	}
	for _, p := range c.cfg.CloudPrincipals {
		if p.Name == c.cfg.ControllerPrincipal {
			return credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, p.SessionToken), nil
		}
	}
	return credentials.StaticCredentialsProvider{}, fmt.Errorf("controller principal %q: no such cloud principal", c.cfg.ControllerPrincipal)
}

// adapter returns the AWS adapter pointed at the local cloud, signing
// with creds: the one path to the cloud, as against AWS.
func (c *Cluster) adapter(ctx context.Context, creds credentials.StaticCredentialsProvider) (*awscloud.Provider, error) {
	return awscloud.New(ctx, awscloud.Config{ClusterName: c.cfg.Name, Region: c.Cloud.Region(), Endpoint: c.CloudURL()},
		awscloud.Deps{Credentials: creds, Logger: c.cfg.Logger})
}

// Provisioner returns the pool provisioner of this cluster on the local
// cloud, through the AWS adapter (its retries and throttle rounds). With
// a client it issues the bootstrap tokens of token rotation through it.
func (c *Cluster) Provisioner(ctx context.Context, client kubernetes.Interface) (*pool.Provisioner, error) {
	return c.provisioner(ctx, client, localCredentials())
}

func (c *Cluster) provisioner(ctx context.Context, client kubernetes.Interface, creds credentials.StaticCredentialsProvider) (*pool.Provisioner, error) {
	adapter, err := c.adapter(ctx, creds)
	if err != nil {
		return nil, err
	}
	d := pool.Deps{Cloud: adapter}
	if client != nil {
		d.Tokens = pool.KubeTokens{Client: client}
	}
	return pool.New(c.cfg.Name, d), nil
}

// reconcilePools creates the configured pools that do not exist yet and
// leaves existing ones alone.
func (c *Cluster) reconcilePools(ctx context.Context) error {
	rest, err := c.ControlPlane.AdminRESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	if err := bootstrap.EnsureJoinRBAC(ctx, client); err != nil {
		return err
	}
	prov, err := c.Provisioner(ctx, client)
	if err != nil {
		return err
	}
	for _, spec := range c.cfg.Pools.Pools {
		if _, err := prov.Get(ctx, spec.Name); err == nil {
			c.cfg.Logger.Info("pool exists", "pool", spec.Name)
			continue
		} else if !errors.Is(err, cloud.ErrNotFound) {
			return err
		}
		if err := c.CreatePool(ctx, prov, client, spec); err != nil {
			return err
		}
	}
	return nil
}

// CreatePool creates one pool on the local cloud with `local` user-data:
// in identity mode (the spec's, else Config.Join) the identity join's
// document, with the node instance profile unless the spec names one; in
// token mode a new bootstrap token for it, issued through client.
func (c *Cluster) CreatePool(ctx context.Context, prov *pool.Provisioner, client kubernetes.Interface, spec pool.Spec) error {
	if spec.ImageID == "" {
		spec.ImageID = localcloud.ImageLocalNode
		if t, err := catalog.Lookup(spec.InstanceTypes[0]); err == nil && t.Architecture == catalog.ArchitectureARM64 {
			spec.ImageID = localcloud.ImageLocalNodeARM64
		}
	}
	if spec.Join.Mode == "" {
		spec.Join.Mode = c.cfg.Join.OrDefault()
	}
	ud, err := c.poolUserData(ctx, client, &spec)
	if err != nil {
		return err
	}
	p, err := prov.Create(ctx, spec, ud)
	if err != nil {
		return err
	}
	c.cfg.Logger.Info("pool created", "pool", p.Name, "group", p.GroupName, "min", p.MinSize, "max", p.MaxSize, "join", spec.Join.Mode)
	return nil
}

// poolUserData is the user-data step of a new local pool in its join mode.
func (c *Cluster) poolUserData(ctx context.Context, client kubernetes.Interface, spec *pool.Spec) (pool.UserData, error) {
	template := userdata.Input{Profile: userdata.ProfileLocal, ClusterName: c.cfg.Name}
	if spec.Join.Mode == pool.JoinModeToken {
		return pool.TokenJoin{
			Tokens: pool.KubeTokens{Client: client}, TTL: c.tokenTTL(), Description: "launch template of local pool " + spec.Name,
			Server: c.ControlPlane.APIServerURL(), CA: c.ControlPlane.CACertPEM(), Template: template,
		}, nil
	}
	if spec.InstanceProfile == "" {
		spec.InstanceProfile = NodeInstanceProfile
	}
	j, err := c.IdentityJoin(ctx, client)
	if err != nil {
		return nil, err
	}
	if spec.Join.Endpoint != "" {
		j.Endpoint = spec.Join.Endpoint
	}
	if spec.Join.EndpointCAFile != "" {
		if j.EndpointCA, err = os.ReadFile(spec.Join.EndpointCAFile); err != nil {
			return nil, fmt.Errorf("pool %s: read join.endpointCAFile: %w", spec.Name, err)
		}
	}
	ud := pool.IdentityJoinUserData{Join: j, Template: template}
	return ud, ud.Validate(*spec)
}

func (c *Cluster) tokenTTL() time.Duration {
	if c.cfg.Controller.TokenTTL > 0 {
		return c.cfg.Controller.TokenTTL
	}
	return DefaultPoolTokenTTL
}

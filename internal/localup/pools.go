package localup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// DefaultPoolTokenTTL is the lifetime of the bootstrap token baked into a
// pool's launch template; the controller rotates it before it expires.
const DefaultPoolTokenTTL = 24 * time.Hour

// PoolManager returns the pool manager of this cluster, on the local cloud.
func (c *Cluster) PoolManager(ctx context.Context) (*pool.Manager, error) {
	cfg, err := c.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &pool.Manager{EC2: ec2.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg), Cluster: c.cfg.Name}, nil
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
	mgr, err := c.PoolManager(ctx)
	if err != nil {
		return err
	}
	for _, spec := range c.cfg.Pools.Pools {
		if _, err := mgr.Get(ctx, spec.Name); err == nil {
			c.cfg.Logger.Info("pool exists", "pool", spec.Name)
			continue
		} else if !errors.Is(err, pool.ErrNotFound) {
			return err
		}
		if err := c.CreatePool(ctx, client, mgr, spec); err != nil {
			return err
		}
	}
	return nil
}

// CreatePool creates one pool on the local cloud with `local` user-data
// carrying a new bootstrap token for it.
func (c *Cluster) CreatePool(ctx context.Context, client kubernetes.Interface, mgr *pool.Manager, spec pool.Spec) error {
	if spec.ImageID == "" {
		spec.ImageID = localcloud.ImageLocalNode
		if t, err := catalog.Lookup(spec.InstanceTypes[0]); err == nil && t.Architecture == catalog.ArchitectureARM64 {
			spec.ImageID = localcloud.ImageLocalNodeARM64
		}
	}
	tok, err := bootstrap.CreateToken(ctx, client, bootstrap.TokenSpec{
		Pool: spec.Name, TTL: c.tokenTTL(), Description: "launch template of local pool " + spec.Name,
	}, time.Now())
	if err != nil {
		return err
	}
	kubeconfig, err := bootstrap.BootstrapKubeconfig(c.ControlPlane.APIServerURL(), c.ControlPlane.CACertPEM(), tok)
	if err != nil {
		return err
	}
	ud, err := userdata.Render(userdata.Input{
		Profile: userdata.ProfileLocal, ClusterName: c.cfg.Name, Pool: spec.Name,
		BootstrapKubeconfig: kubeconfig, Labels: spec.Labels, Taints: spec.Taints,
	})
	if err != nil {
		return err
	}
	p, err := mgr.Create(ctx, spec, ud.Data)
	if err != nil {
		return err
	}
	c.cfg.Logger.Info("pool created", "pool", p.Name, "group", p.GroupName, "min", p.MinSize, "max", p.MaxSize)
	return nil
}

func (c *Cluster) tokenTTL() time.Duration {
	if c.cfg.Controller.TokenTTL > 0 {
		return c.cfg.Controller.TokenTTL
	}
	return DefaultPoolTokenTTL
}

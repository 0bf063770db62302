package nodeagent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/kelp-dev/kelp/internal/userdata"
)

// Joiner runs an identity join for an agent whose root holds a
// userdata.JoinConfig and neither a bootstrap kubeconfig nor a node
// identity: it proves the instance's identity to kelp's join endpoint
// (internal/instancejoin.Run, the code `kelp join` runs), retrying what is
// transient until ctx ends, and writes the bootstrap kubeconfig at
// req.BootstrapKubeconfig. A refusal is final and returned. The
// composition root supplies it: it reaches the AWS adapter, which the
// agent does not.
type Joiner func(ctx context.Context, req JoinRequest) error

// JoinRequest is one identity join of an agent.
type JoinRequest struct {
	// Join is the pool's identity join document (the JoinConfig).
	Join userdata.IdentityJoin
	// NodeName is the node name to join as, the instance's private DNS
	// name.
	NodeName string
	// LocalAddr is the instance's private IP: connections to the metadata
	// service leave from it, since the local cloud knows an instance by
	// its source address, as EC2 knows it by its network interface.
	LocalAddr netip.Addr
	// BootstrapKubeconfig is where to write the bootstrap kubeconfig.
	BootstrapKubeconfig string
}

// readJoinConfig reads the identity join document at path; ok is false
// when there is none.
func readJoinConfig(path string) (cfg userdata.JoinConfig, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return userdata.JoinConfig{}, false, nil
	}
	if err != nil {
		return userdata.JoinConfig{}, false, fmt.Errorf("read join config: %w", err)
	}
	cfg, err = userdata.ParseJoinConfig(data)
	if err != nil {
		return userdata.JoinConfig{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, true, nil
}

// joinServer is the API server an identity join document names.
func joinServer(j userdata.IdentityJoin) (apiServer, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(j.ServerCA) {
		return apiServer{}, errors.New("join config: serverCA holds no PEM certificate")
	}
	return apiServer{host: j.Server, caPEM: j.ServerCA, pool: pool}, nil
}

// identityJoin runs the Joiner and loads the bootstrap kubeconfig it
// wrote, for the TLS bootstrap that follows.
func (a *Agent) identityJoin(ctx context.Context) error {
	if a.joiner == nil {
		return fmt.Errorf("identity join: %s holds a join config but this agent has no Joiner (Config.Join)", a.paths.joinConfig)
	}
	a.setPhase(PhaseJoining)
	a.log.Info("joining by identity", "endpoint", a.join.Endpoint)
	err := a.joiner(ctx, JoinRequest{Join: a.join.IdentityJoin, NodeName: a.NodeName(), LocalAddr: a.facts.ID.addr(),
		BootstrapKubeconfig: a.paths.bootstrapKubeconfig})
	if err != nil {
		return err
	}
	bootstrap, _, err := loadKubeconfig(a.paths.bootstrapKubeconfig)
	if err != nil {
		return fmt.Errorf("identity join: bootstrap %w", err)
	}
	a.bootstrap = bootstrap
	a.log.Info("joined by identity; bootstrapping TLS with the instance's token")
	return nil
}

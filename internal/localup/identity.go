package localup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"

	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/instancejoin"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/nodeagent"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// The identity join on a local cluster: the local cloud's account has one
// node role, which may do nothing but prove who it is (an empty policy;
// sts:GetCallerIdentity needs no permission), and its instance profile,
// which identity-mode pools give their instances.
const (
	NodeRole            = "kelp-node"
	NodeInstanceProfile = "kelp-node"
)

// InstanceJoinTimeout bounds a local instance's identity join; its agent
// then exits and is restarted, as systemd restarts `kelp join`.
const InstanceJoinTimeout = 5 * time.Minute

// nodeRoles are the local cloud's roles and instance profiles.
func nodeRoles() ([]localcloud.Role, []localcloud.InstanceProfile) {
	return []localcloud.Role{{Name: NodeRole, Authorizer: localcloud.Policies{}}},
		[]localcloud.InstanceProfile{{Name: NodeInstanceProfile, Role: NodeRole}}
}

// identityPorts are the ports of the identity join's listeners, kept in
// <dir>/cloud/identity-ports.json: identity-mode launch templates carry
// the addresses, so they stay across restarts.
type identityPorts struct {
	Metadata int `json:"metadata"`
	STS      int `json:"sts"`
	Join     int `json:"join"`
}

// identityEndpoints serve the identity join's side of the local cloud:
// the instance metadata service (the stand-in for 169.254.169.254, which
// knows an instance by the source address of its connection) and an
// HTTPS endpoint of the local cloud for STS (the join endpoint forwards
// proofs only to an https STS). The join endpoint itself is the
// controller's, on Join.
type identityEndpoints struct {
	ports    identityPorts
	servers  []*http.Server
	stsRoots *x509.CertPool
}

// startIdentity starts the metadata and STS listeners on their saved
// ports (new free ones the first time) and saves them.
func (c *Cluster) startIdentity() error {
	path := filepath.Join(c.cfg.Dir, "cloud", "identity-ports.json")
	ports, err := loadIdentityPorts(path)
	if err != nil {
		return err
	}
	e := &identityEndpoints{}
	c.identity = e
	md, err := listenLoopback(ports.Metadata, "instance metadata")
	if err != nil {
		return err
	}
	e.serve(md, &http.Server{Handler: c.Cloud.Metadata(), ReadHeaderTimeout: 10 * time.Second}, c, false)
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	if err != nil {
		return fmt.Errorf("local sts certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("local sts certificate: %w", err)
	}
	e.stsRoots = x509.NewCertPool()
	e.stsRoots.AppendCertsFromPEM(certPEM)
	sts, err := listenLoopback(ports.STS, "local sts")
	if err != nil {
		return err
	}
	e.serve(sts, &http.Server{Handler: c.Cloud, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}, c, true)
	if ports.Join == 0 { // the controller listens; pick a port it will find free
		l, err := listenLoopback(0, "join endpoint")
		if err != nil {
			return err
		}
		ports.Join = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	e.ports = identityPorts{Metadata: port(md), STS: port(sts), Join: ports.Join}
	return saveJSON(path, e.ports)
}

func (e *identityEndpoints) serve(l net.Listener, srv *http.Server, c *Cluster, useTLS bool) {
	e.servers = append(e.servers, srv)
	go func() {
		var err error
		if useTLS {
			err = srv.ServeTLS(l, "", "")
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.cfg.Logger.Error("identity join listener stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
}

// stop shuts the listeners down.
func (e *identityEndpoints) stop(ctx context.Context) error {
	if e == nil {
		return nil
	}
	var errs []error
	for _, s := range e.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// MetadataURL is the local cloud's instance metadata service.
func (c *Cluster) MetadataURL() string { return c.identity.ports.endpoints().MetadataEndpoint }

// STSURL is the local cloud's STS endpoint that identity joins are
// verified with (HTTPS).
func (c *Cluster) STSURL() string { return c.identity.ports.endpoints().STSEndpoint }

// JoinEndpoint is the in-process controller's identity join endpoint.
func (c *Cluster) JoinEndpoint() string { return c.identity.ports.endpoints().Endpoint }

// JoinEndpoints are what identity-mode user-data names on a local cluster
// besides the CAs (Secret kube-system/kelp-join-ca holds the join
// endpoint's): `kelp pool create --join=identity` reads them with
// ReadJoinEndpoints.
type JoinEndpoints struct {
	Endpoint, STSEndpoint, MetadataEndpoint string
	// InstanceProfile is the one instance profile of the local account.
	InstanceProfile string
}

func (p identityPorts) endpoints() JoinEndpoints {
	loopback := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	return JoinEndpoints{Endpoint: "https://" + loopback(p.Join), STSEndpoint: "https://" + loopback(p.STS),
		MetadataEndpoint: "http://" + loopback(p.Metadata), InstanceProfile: NodeInstanceProfile}
}

// DirEnv names the directory of the local cluster in the env file of
// `kelp up`, for the commands that read it (ReadJoinEndpoints).
const DirEnv = "KELP_LOCAL_DIR"

// ReadJoinEndpoints reads the identity join endpoints of the local cluster
// in dir (the directory DirEnv names), saved at its first start; they stay
// across restarts.
func ReadJoinEndpoints(dir string) (JoinEndpoints, error) {
	path := filepath.Join(dir, "cloud", "identity-ports.json")
	p, err := loadIdentityPorts(path)
	if err != nil {
		return JoinEndpoints{}, err
	}
	if p.Join == 0 || p.STS == 0 || p.Metadata == 0 {
		return JoinEndpoints{}, fmt.Errorf("no identity join endpoints saved in %s: has `kelp up` started the cluster in %s?", path, dir)
	}
	return p.endpoints(), nil
}

// JoinOptions are the controller's join endpoint on this cluster: the
// local STS, the node role, the local account. A controller run apart from
// `kelp up` in-process (tests) serves identity joins with these and
// JoinSTSClient.
func (c *Cluster) JoinOptions() *controller.JoinOptions {
	return &controller.JoinOptions{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(c.identity.ports.Join)),
		Policy: join.Policy{STSEndpoint: c.STSURL(), AllowedRoles: []string{NodeRole}, Account: localcloud.AccountID},
		Hosts:  []string{"127.0.0.1"},
	}
}

// JoinSTSClient is the join endpoint's client of the local STS: it
// trusts the STS listener's self-signed certificate.
func (c *Cluster) JoinSTSClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: c.identity.stsRoots, MinVersion: tls.VersionTLS12}}}
}

// IdentityJoin is what identity-mode user-data carries on this cluster:
// the join endpoint and its CA (created now if the controller has not
// yet), the API server and its CA, the local STS and metadata service.
func (c *Cluster) IdentityJoin(ctx context.Context, client kubernetes.Interface) (userdata.IdentityJoin, error) {
	ca, err := join.EnsureCA(ctx, client, time.Now())
	if err != nil {
		return userdata.IdentityJoin{}, fmt.Errorf("identity join: %w", err)
	}
	return userdata.IdentityJoin{Endpoint: c.JoinEndpoint(), EndpointCA: ca.PEM, Server: c.ControlPlane.APIServerURL(),
		ServerCA: c.ControlPlane.CACertPEM(), STSEndpoint: c.STSURL(), MetadataEndpoint: c.MetadataURL()}, nil
}

// joinInstance is the node agents' Joiner: `kelp join`'s code, reading
// the metadata from the instance's own address.
func (c *Cluster) joinInstance(ctx context.Context, req nodeagent.JoinRequest) error {
	ctx, cancel := context.WithTimeout(ctx, InstanceJoinTimeout)
	defer cancel()
	read := func(ctx context.Context) (instancejoin.Metadata, error) {
		md, err := awscloud.ReadInstanceMetadata(ctx, awscloud.MetadataOptions{Endpoint: req.Join.MetadataEndpoint, LocalAddr: req.LocalAddr})
		if err != nil {
			return instancejoin.Metadata{}, err
		}
		return instancejoin.Metadata{Region: md.Region, Hostname: md.Hostname, Sign: md.SignCallerIdentity}, nil
	}
	_, err := instancejoin.Run(ctx, instancejoin.Config{Join: req.Join, NodeName: req.NodeName, BootstrapKubeconfig: req.BootstrapKubeconfig},
		instancejoin.Deps{Metadata: read, Logger: c.cfg.Logger.With("node", req.NodeName)})
	return err
}

func listenLoopback(p int, what string) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return nil, fmt.Errorf("listen %s on 127.0.0.1:%d (saved in identity-ports.json; taken by another process?): %w", what, p, err)
	}
	return l, nil
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func loadIdentityPorts(path string) (identityPorts, error) {
	var p identityPorts
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read identity join ports: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("identity join ports %s are corrupt: %w", path, err)
	}
	return p, nil
}

func saveJSON(path string, v any) error {
	data, _ := json.Marshal(v)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

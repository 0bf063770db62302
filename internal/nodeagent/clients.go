package nodeagent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/connrotation"

	"github.com/kelp-dev/kelp/internal/userdata"
)

const (
	contentTypeProtobuf = "application/vnd.kubernetes.protobuf"
	acceptContentTypes  = contentTypeProtobuf + ",application/json"
)

// apiServer is where the agent's cluster is and how to trust it.
type apiServer struct {
	host  string // https URL
	caPEM []byte
	pool  *x509.CertPool
}

// loadKubeconfig reads a kubeconfig file and returns its current context as
// a rest.Config plus the server it names. The CA must be given, as data or
// as a file.
func loadKubeconfig(path string) (*rest.Config, apiServer, error) {
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, apiServer{}, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, apiServer{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	caPEM := cfg.TLSClientConfig.CAData
	if len(caPEM) == 0 && cfg.TLSClientConfig.CAFile != "" {
		if caPEM, err = os.ReadFile(cfg.TLSClientConfig.CAFile); err != nil {
			return nil, apiServer{}, fmt.Errorf("kubeconfig %s: read CA: %w", path, err)
		}
	}
	if len(caPEM) == 0 {
		return nil, apiServer{}, fmt.Errorf("kubeconfig %s: no certificate authority for server %s", path, cfg.Host)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, apiServer{}, fmt.Errorf("kubeconfig %s: certificate authority holds no PEM certificate", path)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, apiServer{}, fmt.Errorf("kubeconfig %s: server %q: must be an https URL", path, cfg.Host)
	}
	return cfg, apiServer{host: cfg.Host, caPEM: caPEM, pool: pool}, nil
}

// bootstrapClient returns a client acting as the bootstrap kubeconfig's
// user (a bootstrap token) and the HTTP client to close when done. The
// transport is the agent's own: setting Proxy keeps it out of client-go's
// process-wide transport cache.
func bootstrapClient(cfg *rest.Config, t Tuning, userAgent string) (kubernetes.Interface, *http.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	cfg.QPS, cfg.Burst = t.QPS, t.Burst
	cfg.UserAgent = userAgent
	cfg.ContentType, cfg.AcceptContentTypes = contentTypeProtobuf, acceptContentTypes
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("bootstrap client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, nil, fmt.Errorf("bootstrap client: %w", err)
	}
	return cs, hc, nil
}

// nodeTransport is the node identity's connection to the API server: one
// HTTP/2 transport per agent presenting the current client certificate on
// each handshake. After a rotation closeAll drops every connection so the
// next requests handshake with the new certificate, as the kubelet does.
type nodeTransport struct {
	dialer    *connrotation.Dialer
	client    *http.Client
	presented atomic.Pointer[string] // serial of the last certificate presented
}

func newNodeTransport(api apiServer, cert func() *tls.Certificate) *nodeTransport {
	nt := &nodeTransport{
		dialer: connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext),
	}
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    api.pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := cert()
			if c == nil {
				return &tls.Certificate{}, nil
			}
			s := serial(c)
			nt.presented.Store(&s)
			return c, nil
		},
	}
	t := utilnet.SetTransportDefaults(&http.Transport{
		Proxy:               func(*http.Request) (*url.URL, error) { return nil, nil },
		DialContext:         nt.dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 2,
	})
	nt.client = &http.Client{Transport: t}
	return nt
}

// presentedSerial returns the serial of the client certificate last sent
// to the API server, or "".
func (nt *nodeTransport) presentedSerial() string {
	if s := nt.presented.Load(); s != nil {
		return *s
	}
	return ""
}

// closeAll closes every connection, active or idle.
func (nt *nodeTransport) closeAll() { nt.dialer.CloseAll() }

// nodeClient returns a clientset acting as the node through nt.
func nodeClient(api apiServer, nt *nodeTransport, t Tuning, userAgent string) (kubernetes.Interface, error) {
	cfg := &rest.Config{
		Host:      api.host,
		QPS:       t.QPS,
		Burst:     t.Burst,
		UserAgent: userAgent,
		ContentConfig: rest.ContentConfig{
			ContentType:        contentTypeProtobuf,
			AcceptContentTypes: acceptContentTypes,
		},
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, nt.client)
	if err != nil {
		return nil, fmt.Errorf("node client: %w", err)
	}
	return cs, nil
}

// writeNodeKubeconfig writes the node identity's kubeconfig (0600): the
// server, its CA, and the client certificate file for both certificate
// and key, as the kubelet's.
func writeNodeKubeconfig(path string, api apiServer, certFile string) error {
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"default-cluster": {Server: api.host, CertificateAuthorityData: api.caPEM}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"default-auth": {ClientCertificate: certFile, ClientKey: certFile}},
		Contexts:       map[string]*clientcmdapi.Context{"default-context": {Cluster: "default-cluster", AuthInfo: "default-auth"}},
		CurrentContext: "default-context",
	}
	data, err := clientcmd.Write(cfg)
	if err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// readServer finds the API server from the bootstrap kubeconfig or, on a
// restart after the bootstrap kubeconfig was removed, from the node's own
// kubeconfig, or, before an identity join, from the join config (join
// set). bootstrap is nil in the last two cases.
func readServer(p paths) (bootstrap *rest.Config, api apiServer, join *userdata.JoinConfig, err error) {
	bootstrap, api, err = loadKubeconfig(p.bootstrapKubeconfig)
	if err == nil {
		return bootstrap, api, nil, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, apiServer{}, nil, fmt.Errorf("bootstrap %w", err)
	}
	_, api, nodeErr := loadKubeconfig(p.kubeconfig)
	if nodeErr == nil {
		return nil, api, nil, nil
	}
	jc, ok, err := readJoinConfig(p.joinConfig)
	switch {
	case err != nil:
		return nil, apiServer{}, nil, err
	case !ok:
		return nil, apiServer{}, nil, fmt.Errorf("no bootstrap kubeconfig (%s), no join config (%s) and no usable node kubeconfig: %w",
			filepath.Clean(p.bootstrapKubeconfig), filepath.Clean(p.joinConfig), nodeErr)
	}
	api, err = joinServer(jc.IdentityJoin)
	if err != nil {
		return nil, apiServer{}, nil, fmt.Errorf("%s: %w", p.joinConfig, err)
	}
	return nil, api, &jc, nil
}

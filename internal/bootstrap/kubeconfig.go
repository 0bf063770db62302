package bootstrap

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// Names used inside a bootstrap kubeconfig.
const (
	KubeconfigCluster = "kelp"
	KubeconfigUser    = "tls-bootstrap-token-user"
	KubeconfigContext = KubeconfigUser + "@" + KubeconfigCluster
)

// BootstrapKubeconfig returns a kubeconfig with exactly one cluster (server
// and CA data), one user authenticating with token only, and one context,
// which is current. server must be an https URL with a host; caPEM must hold
// one or more PEM certificates and nothing else.
func BootstrapKubeconfig(server string, caPEM []byte, token Token) ([]byte, error) {
	var errs []error
	if err := validateServer(server); err != nil {
		errs = append(errs, err)
	}
	if err := validateCAPEM(caPEM); err != nil {
		errs = append(errs, err)
	}
	if !bootstraputil.IsValidBootstrapToken(token.String()) {
		errs = append(errs, fmt.Errorf("token: id %q and secret must form a bootstrap token (<6 chars>.<16 chars>, a-z0-9)", token.ID))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build bootstrap kubeconfig: %w", err)
	}
	cfg := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{KubeconfigCluster: {
			Server:                   server,
			CertificateAuthorityData: caPEM,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{KubeconfigUser: {
			Token: token.String(),
		}},
		Contexts: map[string]*clientcmdapi.Context{KubeconfigContext: {
			Cluster:  KubeconfigCluster,
			AuthInfo: KubeconfigUser,
		}},
		CurrentContext: KubeconfigContext,
	}
	data, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, fmt.Errorf("build bootstrap kubeconfig: %w", err)
	}
	return data, nil
}

func validateServer(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("server %q: %w", server, err)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("server %q: scheme must be https", server)
	}
	if u.Host == "" {
		return fmt.Errorf("server %q: must name a host", server)
	}
	if u.User != nil {
		return fmt.Errorf("server %q: must not carry user info", server)
	}
	return nil
}

func validateCAPEM(caPEM []byte) error {
	rest, n := caPEM, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("ca: PEM block %d is %q, want CERTIFICATE", n, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("ca: PEM block %d: %w", n, err)
		}
	}
	if n == 0 {
		return errors.New("ca: no PEM certificate found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("ca: %d bytes of non-PEM data after certificate %d", len(rest), n)
	}
	return nil
}

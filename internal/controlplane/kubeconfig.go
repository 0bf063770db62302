package controlplane

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeClientKubeconfig writes a kubeconfig for one client certificate of
// the PKI, with the certificate, key and CA embedded so the file stands
// alone. The file is 0600: it holds a private key.
func writeClientKubeconfig(path, server, clusterName, user string, ca, client keyPair) error {
	der, err := x509.MarshalECPrivateKey(client.Key.(*ecdsa.PrivateKey))
	if err != nil {
		return fmt.Errorf("marshal %s key: %w", user, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: EncodeCertificatePEM(ca.Cert),
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: EncodeCertificatePEM(client.Cert),
		ClientKeyData:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
	}
	ctxName := user + "@" + clusterName
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = ctxName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}

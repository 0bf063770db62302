package userdata

import (
	"errors"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// ErrNoBootstrapToken is returned when user-data carries no bootstrap
// kubeconfig with a bootstrap token.
var ErrNoBootstrapToken = errors.New("no bootstrap kubeconfig with a bootstrap token")

// BootstrapToken finds the bootstrap kubeconfig among the document's files
// (whatever the profile put it) and returns its path and token.
func BootstrapToken(c CloudConfig) (path, token string, err error) {
	for _, f := range c.WriteFiles {
		data, err := f.Data()
		if err != nil {
			continue
		}
		if tok, ok := kubeconfigToken(data); ok {
			return f.Path, tok, nil
		}
	}
	return "", "", ErrNoBootstrapToken
}

func kubeconfigToken(data []byte) (string, bool) {
	cfg, err := clientcmd.Load(data)
	if err != nil || len(cfg.AuthInfos) != 1 {
		return "", false
	}
	for _, u := range cfg.AuthInfos {
		if bootstraputil.IsValidBootstrapToken(u.Token) {
			return u.Token, true
		}
	}
	return "", false
}

// ReplaceBootstrapToken returns user-data equal to data but for the
// bootstrap kubeconfig's token, which becomes token. Everything else —
// server, CA, other files, commands — is kept. The result fits EC2's
// limit as Render's does.
func ReplaceBootstrapToken(data []byte, token string) (Rendered, error) {
	if !bootstraputil.IsValidBootstrapToken(token) {
		return Rendered{}, errors.New("replace bootstrap token: the new token is malformed")
	}
	c, err := Decode(data)
	if err != nil {
		return Rendered{}, fmt.Errorf("replace bootstrap token: %w", err)
	}
	path, _, err := BootstrapToken(c)
	if err != nil {
		return Rendered{}, fmt.Errorf("replace bootstrap token: %w", err)
	}
	for i, f := range c.WriteFiles {
		if f.Path != path {
			continue
		}
		raw, _ := f.Data()
		cfg, _ := clientcmd.Load(raw)
		for _, u := range cfg.AuthInfos {
			u.Token = token
		}
		out, err := clientcmd.Write(*cfg)
		if err != nil {
			return Rendered{}, fmt.Errorf("replace bootstrap token: encode kubeconfig: %w", err)
		}
		c.WriteFiles[i] = newFile(f.Path, out, f.Permissions)
		c.WriteFiles[i].Owner = f.Owner
	}
	doc, err := c.Marshal()
	if err != nil {
		return Rendered{}, fmt.Errorf("replace bootstrap token: %w", err)
	}
	return fit(doc)
}

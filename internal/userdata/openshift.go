package userdata

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Files written by the openshift-3.11 profile, as in the OpenShift 3.11 AWS
// bootstrap procedure (openshift-ansible's openshift_aws user-data).
const (
	OpenShiftSettingsPath            = "/root/openshift_bootstrap/openshift_settings.yaml"
	OpenShiftBootstrapPlaybook       = "/root/openshift_bootstrap/bootstrap.yml"
	OpenShiftBootstrapKubeconfigPath = "/etc/origin/node/bootstrap.kubeconfig"
	OpenShiftRegistryAuthPath        = "/var/lib/origin/.docker/config.json"
	OpenShiftAWSConfPath             = "/etc/origin/cloudprovider/aws.conf"
)

// openshiftSettings is the variables file the bootstrap playbook reads.
type openshiftSettings struct {
	NodeConfigName string `json:"openshift_node_config_name"`
}

// buildOpenShift lays out an OpenShift 3.11 node: settings naming the node
// group, bootstrap kubeconfig, optional registry credentials, the AWS cloud
// provider config; then runs the bootstrap playbook and starts the node.
func buildOpenShift(in Input) (CloudConfig, error) {
	settings, err := yaml.Marshal(openshiftSettings{NodeConfigName: in.nodeConfigName()})
	if err != nil {
		return CloudConfig{}, fmt.Errorf("marshal openshift settings: %w", err)
	}
	awsConf := fmt.Sprintf("[Global]\nZone = %s\n", in.Region)
	files := []File{
		newFile(OpenShiftSettingsPath, settings, PermPublic),
		newFile(OpenShiftBootstrapKubeconfigPath, in.BootstrapKubeconfig, PermSecret),
	}
	if len(in.RegistryAuth) > 0 {
		files = append(files, newFile(OpenShiftRegistryAuthPath, in.RegistryAuth, PermSecret))
	}
	files = append(files, newFile(OpenShiftAWSConfPath, []byte(awsConf), PermPublic))
	return CloudConfig{
		WriteFiles: files,
		RunCmd: []Command{
			Argv("ansible-playbook", OpenShiftBootstrapPlaybook),
			// Restarting systemd-hostnamed gives the instance its FQDN
			// hostname after the network restart.
			Argv("systemctl", "restart", "systemd-hostnamed"),
			Argv("systemctl", "restart", "NetworkManager"),
			Argv("systemctl", "enable", "atomic-openshift-node"),
			Argv("systemctl", "start", "atomic-openshift-node"),
		},
	}, nil
}

//! The AWS half against a real AWS API: moto's server mode, whose instances (in a
//! loopback subnet) are real sshd hosts. Roles the file gives no hosts are found
//! by `FabulAWS`'s tags and deployed to over ssh; servers are launched, images
//! built, groups replaced and recovered.

mod discovery;
mod groups;
mod images;
mod launch;
mod refresh;
mod service;

use deployer_fleet::Fleet;

use crate::support::moto::Moto;
use crate::support::project::{DEFAULT_ROLES, Project};

/// A project whose `testing` environment has no server yet: `create_environment`
/// launches two web servers and a worker into the loopback subnet.
pub(super) fn launch_project(moto: &Moto, subnet: &str, setup: &str) -> Project {
    let directory = tempfile::Builder::new().prefix("dpl").tempdir().unwrap();
    let fleet = Fleet::start_empty(&directory.path().join("fleet")).expect("the fleet starts");
    let extra = format!(
        "deploy_user: {user}\nregion: us-east-1\nec2_attr_for_ssh: private_ip_address\n\
         aws:\n  discover: tags\n  endpoint_url: {endpoint}\n  servers: {{web: 2, worker: 1}}\n  timeouts: {{ssh: 60}}\n\
         instance_settings: {{ami: ami-03cf127a, key_prefix: demo-}}\ninstance_types: t3.micro\n\
         volume_sizes: {{worker: 20}}\navail_zones: [a]\nsubnets: {{a: {subnet}}}\n",
        user = fleet.user,
        endpoint = moto.endpoint,
    );
    let roles = format!("{DEFAULT_ROLES}  worker:\n    restart: \"true\"\n    setup: [\"{setup}\"]\n");
    let project = Project::new(directory, fleet, &roles, &extra, "environments:\n  testing:\n    branch: main\n");
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    let config =
        config.replace("valid_roles: [web]", "valid_roles: [web, worker]").replace("ssh:\n", "ssh:\n  port: 2222\n");
    std::fs::write(project.path().join("fabulaws-config.yml"), config).unwrap();
    project.tick();
    project
}

/// The web servers' health check fails on a server with an `unhealthy` file.
pub(super) fn unhealthy_where_marked(project: &Project) {
    let config = std::fs::read_to_string(project.path().join("fabulaws-config.yml")).unwrap();
    let config = config.replace(
        "healthcheck: test -f app.txt",
        "healthcheck: \"test ! -e /srv/deployer-fleet/unhealthy && test -f app.txt\"",
    );
    std::fs::write(project.path().join("fabulaws-config.yml"), config).unwrap();
}

pub(super) fn running(roles: &[(String, String)]) -> Vec<&str> {
    roles.iter().filter(|(state, _)| state == "running").map(|(_, role)| role.as_str()).collect()
}

//! The Azure fabric's wireserver (22.4's `WALinuxAgentShim`,
//! `GoalState`, `GoalStateHealthReporter`): where it is (DHCP option 245,
//! else 168.63.129.16), the goal state fetched, and provisioning reported
//! `Ready` (or failed) in the health report 22.4 builds, byte for byte.

use std::path::Path;
use std::time::{Duration, Instant};

use super::xml;
use crate::http::{self, Limits};
use crate::rootfs::FsView;

/// `DEFAULT_WIRESERVER_ENDPOINT`.
pub const DEFAULT_ENDPOINT: &str = "168.63.129.16";

/// `AzureEndpointHttpClient.headers`, sent with every request.
pub const HEADERS: [(&str, &str); 2] = [
    ("x-ms-agent-name", "WALinuxAgent"),
    ("x-ms-version", "2012-11-30"),
];

/// `DEFAULT_REPORT_FAILURE_USER_VISIBLE_MESSAGE`.
pub const DEFAULT_FAILURE_MESSAGE: &str = "The VM encountered an error during deployment. \
     Please visit https://aka.ms/linuxprovisioningerror for more information on remediation.";

/// `get_ip_from_lease_value`: option 245 as dhclient (`a8:3f:81:10`, or
/// four escaped characters) or networkd (`a83f8110`) writes it.
pub fn ip_from_lease_value(value: &str) -> Option<String> {
    let unescaped = value.replace('\\', "");
    let bytes: [u8; 4] = if unescaped.len() > 4 {
        let hex: String = unescaped
            .split(':')
            .map(|pair| {
                if pair.len() == 1 {
                    format!("0{pair}")
                } else {
                    pair.to_string()
                }
            })
            .collect();
        u32::from_str_radix(&hex, 16).ok()?.to_be_bytes()
    } else {
        unescaped.as_bytes().try_into().ok()?
    };
    Some(std::net::Ipv4Addr::from(bytes).to_string())
}

/// dhclient's lease files and networkd's lease directory, where the
/// image's DHCP client left option 245.
const DHCLIENT_DIRS: [&str; 3] = [
    "/var/lib/dhclient",
    "/var/lib/dhcp",
    "/var/lib/NetworkManager",
];
const NETWORKD_LEASES: &str = "/run/systemd/netif/leases";

/// The wireserver's address: option 245 of a DHCP lease under the root
/// (the last one in a dhclient lease file, as the newest lease comes last;
/// then networkd's `OPTION_245`), else the default.
pub fn endpoint(fs: &dyn FsView) -> String {
    let read = |p: &Path| {
        crate::rootfs::read_limited(fs, p, 1 << 20)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    for dir in DHCLIENT_DIRS {
        let mut names = fs.list_dir(Path::new(dir)).unwrap_or_default();
        names.sort();
        for name in names
            .iter()
            .filter(|n| n.ends_with(".lease") || n.ends_with(".leases"))
        {
            let Some(text) = read(&Path::new(dir).join(name)) else {
                continue;
            };
            let mut value = text.lines().filter_map(|l| {
                let l = l.trim().strip_prefix("option unknown-245")?;
                Some(l.trim().trim_end_matches(';').trim_matches('"').to_string())
            });
            if let Some(ip) = value.next_back().and_then(|v| ip_from_lease_value(&v)) {
                tracing::debug!("wireserver {ip} from option 245 in {dir}/{name}");
                return ip;
            }
        }
    }
    let mut names = fs.list_dir(Path::new(NETWORKD_LEASES)).unwrap_or_default();
    names.sort();
    for name in names {
        let Some(text) = read(&Path::new(NETWORKD_LEASES).join(&name)) else {
            continue;
        };
        let value = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("OPTION_245=").map(str::to_string));
        if let Some(ip) = value.and_then(|v| ip_from_lease_value(&v)) {
            tracing::debug!("wireserver {ip} from OPTION_245 in {NETWORKD_LEASES}/{name}");
            return ip;
        }
    }
    DEFAULT_ENDPOINT.to_string()
}

/// The parts of the goal state the health report names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalState {
    pub container_id: String,
    pub instance_id: String,
    pub incarnation: String,
    /// `Container/RoleInstanceList/RoleInstance/Configuration/Certificates`.
    pub certificates_url: Option<String>,
}

/// `GoalState.__init__`: the three values, each required.
pub fn parse_goal_state(body: &[u8]) -> Result<GoalState, String> {
    let root = xml::parse(body).map_err(|e| format!("Failed to parse GoalState XML: {e}"))?;
    let text = |path: &[&str]| root.find_path(path).and_then(|e| e.text.clone());
    let role = ["Container", "RoleInstanceList", "RoleInstance"];
    let get = |path: &[&str], attr: &str| {
        text(path).ok_or_else(|| format!("Missing {attr} in GoalState XML"))
    };
    Ok(GoalState {
        container_id: get(&["Container", "ContainerId"], "container_id")?,
        instance_id: get(&[&role[..], &["InstanceId"]].concat(), "instance_id")?,
        incarnation: get(&["Incarnation"], "incarnation")?,
        certificates_url: text(&[&role[..], &["Configuration", "Certificates"]].concat()),
    })
}

/// `xml.sax.saxutils.escape`.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('>', "&gt;")
        .replace('<', "&lt;")
}

/// `GoalStateHealthReporter.build_report`: the document as 22.4's template
/// makes it (its blank line and indentation included).
pub fn build_report(gs: &GoalState, status: &str, failure: Option<(&str, &str)>) -> String {
    let detail = match failure {
        Some((substatus, description)) => format!(
            "<Details>\n  <SubStatus>{}</SubStatus>\n  <Description>{}</Description>\n</Details>\n",
            escape(substatus),
            escape(&description.chars().take(512).collect::<String>())
        ),
        None => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n  \
         <GoalStateIncarnation>{}</GoalStateIncarnation>\n  \
         <Container>\n    \
         <ContainerId>{}</ContainerId>\n    \
         <RoleInstanceList>\n      \
         <Role>\n        \
         <InstanceId>{}</InstanceId>\n        \
         <Health>\n          \
         <State>{}</State>\n          \
         {detail}\n        \
         </Health>\n      \
         </Role>\n    \
         </RoleInstanceList>\n  \
         </Container>\n\
         </Health>\n",
        escape(&gs.incarnation),
        escape(&gs.container_id),
        escape(&gs.instance_id),
        escape(status),
    )
}

/// How long the wireserver is retried (`http_with_retries`: a request
/// every 5 s for up to 20 minutes, connect 5 s and read 60 s each).
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    pub retry_sleep: Duration,
    pub total: Duration,
}

impl Patience {
    pub const CLOUD_INIT: Patience = Patience {
        retry_sleep: Duration::from_secs(5),
        total: Duration::from_secs(20 * 60),
    };
}

/// `http_with_retries`: the request again after a failure until the time
/// is up or the network is unreachable.
fn with_retries(
    method: &str,
    url: &str,
    extra: &[(&str, &str)],
    body: Option<&[u8]>,
    patience: Patience,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + patience.total;
    let mut headers: Vec<(&str, &str)> = HEADERS.to_vec();
    headers.extend_from_slice(extra);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let limits = Limits {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(60),
            max_body: 4 << 20,
        };
        let failure = match http::request(method, url, &headers, body, &limits) {
            Ok(r) if r.ok() => {
                tracing::debug!(
                    "Successful HTTP request with Azure endpoint {url} after {attempt} attempts"
                );
                return Ok(r.body);
            }
            Ok(r) => format!("{url}: HTTP {}", r.status),
            Err(e) => e.to_string(),
        };
        tracing::debug!(
            "Failed HTTP request with Azure endpoint {url} during attempt {attempt}: {failure}"
        );
        if Instant::now() + patience.retry_sleep >= deadline
            || failure.contains("Network is unreachable")
        {
            return Err(failure);
        }
        std::thread::sleep(patience.retry_sleep);
    }
}

/// `_get_raw_goal_state_xml_from_azure` and its parsing.
pub fn fetch_goal_state(endpoint: &str, patience: Patience) -> Result<GoalState, String> {
    tracing::info!("Registering with Azure...");
    let url = format!("http://{endpoint}/machine/?comp=goalstate");
    let body = with_retries("GET", &url, &[], None, patience)
        .map_err(|e| format!("failed to register with Azure and fetch GoalState XML: {e}"))?;
    let gs = parse_goal_state(&body).map_err(|e| format!("Error processing GoalState XML: {e}"))?;
    tracing::debug!(
        "GoalState XML container id: {}, GoalState XML instance id: {}, GoalState XML incarnation: {}",
        gs.container_id,
        gs.instance_id,
        gs.incarnation
    );
    Ok(gs)
}

/// `_post_health_report`.
pub fn post_health(endpoint: &str, document: &str, patience: Patience) -> Result<(), String> {
    let url = format!("http://{endpoint}/machine?comp=health");
    tracing::debug!("Sending health report to Azure fabric.");
    with_retries(
        "POST",
        &url,
        &[("Content-Type", "text/xml; charset=utf-8")],
        Some(document.as_bytes()),
        patience,
    )?;
    tracing::debug!("Successfully sent health report to Azure fabric");
    Ok(())
}

/// `register_with_azure_and_fetch_data`'s report: goal state, then `Ready`.
pub fn report_ready(endpoint: &str, patience: Patience) -> Result<GoalState, String> {
    let gs = fetch_goal_state(endpoint, patience)?;
    tracing::debug!("Reporting ready to Azure fabric.");
    post_health(endpoint, &build_report(&gs, "Ready", None), patience)
        .map_err(|e| format!("exception while reporting ready: {e}"))?;
    tracing::info!("Reported ready to Azure fabric.");
    Ok(gs)
}

/// `report_failure_to_fabric`: goal state, then `NotReady` with
/// `ProvisioningFailed` and the description.
pub fn report_failure(endpoint: &str, description: &str, patience: Patience) -> Result<(), String> {
    let gs = fetch_goal_state(endpoint, patience)?;
    let doc = build_report(&gs, "NotReady", Some(("ProvisioningFailed", description)));
    post_health(endpoint, &doc, patience)
        .map_err(|e| format!("exception while reporting failure: {e}"))?;
    tracing::warn!("Reported failure to Azure fabric.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_values() {
        assert_eq!(
            ip_from_lease_value("a8:3f:81:10").as_deref(),
            Some("168.63.129.16")
        );
        assert_eq!(
            ip_from_lease_value("a8:3f:81:a").as_deref(),
            Some("168.63.129.10")
        );
        assert_eq!(
            ip_from_lease_value("a83f8110").as_deref(),
            Some("168.63.129.16")
        );
        assert_eq!(ip_from_lease_value("abcd").as_deref(), Some("97.98.99.100"));
        assert_eq!(ip_from_lease_value("zz:zz:zz:zz"), None);
    }

    #[test]
    fn goal_state_needs_its_three_values() {
        let gs = parse_goal_state(
            b"<GoalState><Incarnation>1</Incarnation><Container><ContainerId>c</ContainerId>\
              <RoleInstanceList><RoleInstance><InstanceId>i</InstanceId></RoleInstance>\
              </RoleInstanceList></Container></GoalState>",
        )
        .unwrap();
        assert_eq!(
            (
                gs.container_id.as_str(),
                gs.instance_id.as_str(),
                gs.incarnation.as_str()
            ),
            ("c", "i", "1")
        );
        assert_eq!(
            parse_goal_state(b"<GoalState><Incarnation>1</Incarnation></GoalState>"),
            Err("Missing container_id in GoalState XML".into())
        );
    }
}

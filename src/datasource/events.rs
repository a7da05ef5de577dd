//! Update events (`cloudinit/event.py`, `stages.update_event_enabled`):
//! whether an event (`boot-new-instance`, `boot`, `boot-legacy`,
//! `hotplug`) lets cloud-init refresh the network config. The user's
//! `updates: {network: {when: [...]}}` replaces the datasource's default
//! (`boot-new-instance` alone); every datasource cloudboot has supports all
//! four (22.4's base class does, and none of its subclasses narrows that).

use crate::value::Value;

/// `EventType`'s values.
pub const EVENT_TYPES: &[&str] = &["boot-new-instance", "boot", "boot-legacy", "hotplug"];

/// The datasource's `default_update_events` for the network scope.
const DEFAULT_NETWORK_EVENTS: &[&str] = &["boot-new-instance"];

/// `userdata_to_events(cfg["updates"])`'s network scope: `None` when the
/// user gives none; an empty list when one of its events is not an
/// `EventType` (22.4 warns and ignores the scope's list).
pub fn user_network_events(cfg: &Value) -> Option<Vec<String>> {
    let when = cfg.get("updates")?.get("network")?.get("when")?;
    let names: Vec<String> = match when {
        Value::Seq(items) => items.iter().map(Value::python_str).collect(),
        _ => return Some(Vec::new()),
    };
    if let Some(bad) = names.iter().find(|n| !EVENT_TYPES.contains(&n.as_str())) {
        tracing::warn!(
            "'{bad}' is not a valid EventType! Update data will be ignored for 'network' scope"
        );
        return Some(Vec::new());
    }
    Some(names)
}

/// `update_event_enabled(datasource, cfg, event, EventScope.NETWORK)`.
pub fn network_event_enabled(cfg: &Value, event: &str) -> bool {
    match user_network_events(cfg) {
        Some(events) => events.iter().any(|e| e == event),
        None => DEFAULT_NETWORK_EVENTS.contains(&event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Value {
        crate::yaml::load(text.as_bytes(), "t").unwrap()
    }

    #[test]
    fn the_users_list_replaces_the_default() {
        assert!(network_event_enabled(&cfg("{}"), "boot-new-instance"));
        assert!(!network_event_enabled(&cfg("{}"), "hotplug"));
        let c = cfg("updates: {network: {when: [hotplug]}}");
        assert!(network_event_enabled(&c, "hotplug"));
        assert!(!network_event_enabled(&c, "boot-new-instance"));
    }

    #[test]
    fn one_unknown_event_drops_the_whole_list() {
        let c = cfg("updates: {network: {when: [hotplug, sometimes]}}");
        assert_eq!(user_network_events(&c), Some(vec![]));
        assert!(!network_event_enabled(&c, "hotplug"));
    }
}

//! This node's name among the nodes sharing one store: the owner written
//! into the leases it takes (System Jobs, Business Central notifications),
//! so a lease names who holds it. Host name, process id and a random part,
//! so two processes on one host, or two servers in one process (tests),
//! never share a name.

/// A new node name; `role` prefixes it (`bc` → `bc-host-123-1a2b3c4d`).
pub fn node_name(role: Option<&str>) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{host}-{}-{}", std::process::id(), &random[..8]);
    match role {
        Some(role) => format!("{role}-{name}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_unique_and_prefixed() {
        let a = super::node_name(None);
        assert_ne!(a, super::node_name(None));
        assert!(super::node_name(Some("bc")).starts_with("bc-"));
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}

//! A service endpoint's `authtype` and `authvalue` as Dataverse stores
//! them: WebhookKey (4) is the plain key; HttpHeader (5) and
//! HttpQueryString (6) are `<settings><setting name="K" value="V" /></settings>`.

/// The authentication a webhook applies to each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAuth {
    /// `?code=<key>` appended to the URL.
    WebhookKey(String),
    /// Each pair sent as a header.
    HttpHeader(Vec<(String, String)>),
    /// Each pair appended to the query string.
    HttpQueryString(Vec<(String, String)>),
}

pub const AUTHTYPE_WEBHOOK_KEY: i64 = 4;
pub const AUTHTYPE_HTTP_HEADER: i64 = 5;
pub const AUTHTYPE_HTTP_QUERY_STRING: i64 = 6;

/// Parse Dataverse's `<settings>` document into (name, value) pairs.
pub fn parse_settings(xml: &str) -> Result<Vec<(String, String)>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| {
        format!(
            "authvalue must be <settings><setting name=\"Key\" value=\"Value\" /></settings>: {e}"
        )
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "settings" {
        return Err(format!(
            "authvalue must have a <settings> root element, not <{}>",
            root.tag_name().name()
        ));
    }
    let mut out = Vec::new();
    for node in root.children().filter(|n| n.is_element()) {
        if node.tag_name().name() != "setting" {
            return Err(format!(
                "authvalue: unexpected element <{}> inside <settings>",
                node.tag_name().name()
            ));
        }
        let name = node
            .attribute("name")
            .filter(|n| !n.trim().is_empty())
            .ok_or("authvalue: every <setting> needs a non-empty name attribute")?;
        let value = node.attribute("value").unwrap_or("");
        out.push((name.to_string(), value.to_string()));
    }
    if out.is_empty() {
        return Err("authvalue: <settings> must contain at least one <setting>".into());
    }
    Ok(out)
}

/// Write pairs as Dataverse's `<settings>` document.
pub fn settings_xml(pairs: &[(String, String)]) -> String {
    let mut s = String::from("<settings>");
    for (k, v) in pairs {
        s.push_str(&format!(
            "<setting name=\"{}\" value=\"{}\" />",
            xml_escape(k),
            xml_escape(v)
        ));
    }
    s.push_str("</settings>");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Interpret a stored authtype/authvalue pair.
pub fn webhook_auth(authtype: i64, authvalue: Option<&str>) -> Result<WebhookAuth, String> {
    let value = authvalue.unwrap_or("");
    match authtype {
        AUTHTYPE_WEBHOOK_KEY => {
            if value.is_empty() {
                Err("authtype WebhookKey (4) needs the key as authvalue".into())
            } else {
                Ok(WebhookAuth::WebhookKey(value.to_string()))
            }
        }
        AUTHTYPE_HTTP_HEADER => {
            let pairs = parse_settings(value)?;
            for (k, v) in &pairs {
                let valid_name = k.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !valid_name || v.chars().any(|c| c == '\r' || c == '\n') {
                    return Err(format!("authvalue: '{k}' is not a valid HTTP header"));
                }
            }
            Ok(WebhookAuth::HttpHeader(pairs))
        }
        AUTHTYPE_HTTP_QUERY_STRING => Ok(WebhookAuth::HttpQueryString(parse_settings(value)?)),
        other => Err(format!(
            "authtype {other} is not supported: use 4 (WebhookKey), 5 (HttpHeader) or 6 (HttpQueryString)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_settings() {
        let pairs = vec![
            ("X-Test1".to_string(), "a&b".to_string()),
            ("X-Test2".to_string(), "\"q\"".to_string()),
        ];
        let xml = settings_xml(&pairs);
        assert_eq!(parse_settings(&xml).unwrap(), pairs);
        assert!(parse_settings("<settings/>").is_err());
        assert!(parse_settings("not xml").is_err());
        assert!(webhook_auth(
            5,
            Some("<settings><setting name=\"Bad Header\" value=\"v\"/></settings>")
        )
        .is_err());
        assert_eq!(
            webhook_auth(4, Some("k")).unwrap(),
            WebhookAuth::WebhookKey("k".into())
        );
        assert!(webhook_auth(7, Some("k")).is_err());
    }
}

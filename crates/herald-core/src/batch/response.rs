//! The `multipart/mixed` answer to a `$batch`, as Dataverse writes it: one
//! `application/http` part per request (`Content-Transfer-Encoding:
//! binary`, the status line, headers, body), a committed change set nested
//! in its own `changesetresponse_…` boundary with each `Content-ID` echoed.

/// The answer to one request of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct PartResponse {
    pub content_id: Option<String>,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One top-level part of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseItem {
    /// A request outside a change set, or the error that rolled a change
    /// set back.
    Single(PartResponse),
    /// A committed change set: its own boundary and one answer per request.
    ChangeSet {
        boundary: String,
        parts: Vec<PartResponse>,
    },
}

/// The body of the batch answer delimited by `boundary`.
pub fn write(boundary: &str, items: &[ResponseItem]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match item {
            ResponseItem::Single(part) => write_part(&mut out, part),
            ResponseItem::ChangeSet {
                boundary: inner,
                parts,
            } => {
                out.extend_from_slice(
                    format!("Content-Type: multipart/mixed; boundary={inner}\r\n\r\n").as_bytes(),
                );
                for part in parts {
                    out.extend_from_slice(format!("--{inner}\r\n").as_bytes());
                    write_part(&mut out, part);
                }
                out.extend_from_slice(format!("--{inner}--\r\n").as_bytes());
            }
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn write_part(out: &mut Vec<u8>, part: &PartResponse) {
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(id) = &part.content_id {
        out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("\r\nHTTP/1.1 {} {}\r\n", part.status, part.reason).as_bytes());
    for (name, value) in &part.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&part.body);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_dataverse_shaped_parts() {
        let created = PartResponse {
            content_id: Some("1".into()),
            status: 204,
            reason: "No Content".into(),
            headers: vec![(
                "OData-EntityId".into(),
                "http://h/api/data/v9.2/accounts(1)".into(),
            )],
            body: Vec::new(),
        };
        let text = String::from_utf8(write(
            "batchresponse_x",
            &[ResponseItem::ChangeSet {
                boundary: "changesetresponse_y".into(),
                parts: vec![created],
            }],
        ))
        .unwrap();
        assert_eq!(
            text,
            "--batchresponse_x\r\nContent-Type: multipart/mixed; boundary=changesetresponse_y\r\n\r\n\
             --changesetresponse_y\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n\
             HTTP/1.1 204 No Content\r\nOData-EntityId: http://h/api/data/v9.2/accounts(1)\r\n\r\n\r\n\
             --changesetresponse_y--\r\n--batchresponse_x--\r\n"
        );
    }
}

//! A stub of AWS's query APIs on 127.0.0.1 for the unit tests of what moto cannot
//! emulate (states AWS reaches over time, refusals, throttling): canned XML per
//! action, in order, with deployer's own client configuration pointed at it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Aws;

pub(crate) const AUTOSCALING: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
pub(crate) const ELBV2: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// One HTTP answer: status and body.
pub(crate) type Answer = (u16, String);

/// A successful answer to `action` whose result holds `inner`.
pub(crate) fn ok(xmlns: &str, action: &str, inner: &str) -> Answer {
    (
        200,
        format!(
            "<{action}Response xmlns=\"{xmlns}\"><{action}Result>{inner}</{action}Result><ResponseMetadata>\
             <RequestId>1</RequestId></ResponseMetadata></{action}Response>"
        ),
    )
}

/// An error answer with AWS's `code` and `message`.
pub(crate) fn error(xmlns: &str, status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
             </Error><RequestId>1</RequestId></ErrorResponse>"
        ),
    )
}

pub(crate) struct Stub {
    endpoint: String,
    /// Each call's action and form body, in order.
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Stub {
    /// Serves each action's answers in order (the last one again once they run
    /// out); an action without answers gets an empty success.
    pub(crate) fn serve(xmlns: &'static str, answers: Vec<(&'static str, Vec<Answer>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let mut answers: HashMap<&str, (std::vec::IntoIter<Answer>, Option<Answer>)> =
            answers.into_iter().map(|(action, list)| (action, (list.into_iter(), None))).collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (action, body) = read_request(&mut stream);
                seen.lock().unwrap().push((action.clone(), body));
                let (status, xml) = match answers.get_mut(action.as_str()) {
                    Some((queue, previous)) => {
                        let answer = queue.next().or_else(|| previous.clone()).unwrap();
                        *previous = Some(answer.clone());
                        answer
                    }
                    None => ok(xmlns, &action, ""),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
            }
        });
        Self { endpoint, calls }
    }

    /// deployer's client (HTTP client, retries), pointed at the stub, looking
    /// again every 10 ms where it would wait seconds.
    pub(crate) async fn client(&self) -> Aws {
        let credentials = aws_sdk_autoscaling::config::Credentials::new("testing", "testing", None, None, "test");
        let shared = crate::client::base_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .load()
            .await;
        let mut aws = Aws::from_config(&shared, deployer_config::SshAddress::PrivateIpAddress);
        aws.poll = Duration::from_millis(10);
        aws
    }

    /// The actions called, in order.
    pub(crate) fn actions(&self) -> Vec<String> {
        self.calls.lock().unwrap().iter().map(|(action, _)| action.clone()).collect()
    }

    /// The form body of the first call of `action`.
    pub(crate) fn body(&self, action: &str) -> String {
        let calls = self.calls.lock().unwrap();
        calls.iter().find(|(called, _)| called == action).map(|(_, body)| body.clone()).unwrap_or_default()
    }
}

/// The action and body of one HTTP request.
fn read_request(stream: &mut std::net::TcpStream) -> (String, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let action = body.split('&').find_map(|pair| pair.strip_prefix("Action=")).unwrap_or("").to_owned();
    (action, body)
}

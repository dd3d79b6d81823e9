//! Reading the API's answers in tests.

use kube::core::Status;

/// The Status of a refused request.
pub fn api_error(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(response) => *response,
        other => panic!("expected an API error, got {other:?}"),
    }
}

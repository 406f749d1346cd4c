"""S3 error codes as exception classes: one subclass per code, with Amazon's HTTP status and message.

Raise these anywhere in the protocol or gateway layers; `gateway/errors.py` is the one place that
turns them into S3 XML responses.
"""

from __future__ import annotations


class S3Error(Exception):
    """Base of every S3 error; `code`, `status` and the default `message` come from the subclass."""

    code = "InternalError"
    status = 500
    message = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **extra: str) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        # Extra child elements of <Error>, e.g. BucketName, Key, ArgumentName (as Amazon adds them).
        self.extra = extra


def _error(code: str, status: int, message: str) -> type[S3Error]:
    return type(code, (S3Error,), {"code": code, "status": status, "message": message})


# 400
AuthorizationHeaderMalformed = _error("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
AuthorizationQueryParametersError = _error(
    "AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."
)
# Malformed HTTP below the S3 protocol (request line, header syntax, message framing).
BadRequest = _error("BadRequest", 400, "An error occurred when parsing the HTTP request.")
BadDigest = _error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
EntityTooLarge = _error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size.")
EntityTooSmall = _error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
ExpiredToken = _error("ExpiredToken", 400, "The provided token has expired.")
IncompleteBody = _error("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
InvalidArgument = _error("InvalidArgument", 400, "Invalid Argument")
InvalidBucketName = _error("InvalidBucketName", 400, "The specified bucket is not valid.")
InvalidDigest = _error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")
InvalidPart = _error(
    "InvalidPart",
    400,
    "One or more of the specified parts could not be found. The part may not have been uploaded, "
    "or the specified entity tag may not match the part's entity tag.",
)
InvalidPartOrder = _error("InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number.")
InvalidRequest = _error("InvalidRequest", 400, "Invalid Request")
InvalidLocationConstraint = _error("InvalidLocationConstraint", 400, "The specified location-constraint is not valid.")
KeyTooLongError = _error("KeyTooLongError", 400, "Your key is too long")
MalformedXML = _error(
    "MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema."
)
MissingSecurityHeader = _error("MissingSecurityHeader", 400, "Your request was missing a required header.")
MaxMessageLengthExceeded = _error("MaxMessageLengthExceeded", 400, "Your request was too big.")
MetadataTooLarge = _error("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.")
RequestHeaderSectionTooLarge = _error(
    "RequestHeaderSectionTooLarge", 400, "Your request header section exceeds the maximum allowed size."
)
XAmzContentSHA256Mismatch = _error(
    "XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."
)
UnexpectedContent = _error("UnexpectedContent", 400, "This request does not support content")
# 403
RequestTimeTooSkewed = _error(
    "RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large."
)
AccessDenied = _error("AccessDenied", 403, "Access Denied")
InvalidAccessKeyId = _error(
    "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."
)
SignatureDoesNotMatch = _error(
    "SignatureDoesNotMatch",
    403,
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.",
)
# 404
NoSuchBucket = _error("NoSuchBucket", 404, "The specified bucket does not exist")
NoSuchKey = _error("NoSuchKey", 404, "The specified key does not exist.")
NoSuchUpload = _error(
    "NoSuchUpload",
    404,
    "The specified multipart upload does not exist. The upload ID might be invalid, "
    "or the multipart upload might have been aborted or completed.",
)
NoSuchVersion = _error("NoSuchVersion", 404, "The specified version does not exist.")
# 405, 409, 411, 412, 416
MethodNotAllowed = _error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
BucketAlreadyExists = _error(
    "BucketAlreadyExists", 409, "The requested bucket name is not available. Please select a different name and try again."
)
BucketAlreadyOwnedByYou = _error(
    "BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it."
)
BucketNotEmpty = _error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
OperationAborted = _error(
    "OperationAborted", 409, "A conflicting conditional operation is currently in progress against this resource."
)
MissingContentLength = _error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
PreconditionFailed = _error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
InvalidPartNumber = _error("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
InvalidRange = _error("InvalidRange", 416, "The requested range is not satisfiable")
# 5xx
InternalError = _error("InternalError", 500, "We encountered an internal error. Please try again.")
NotImplemented_ = _error("NotImplemented", 501, "A header you provided implies functionality that is not implemented.")
ServiceUnavailable = _error("ServiceUnavailable", 503, "Please reduce your request rate.")
SlowDown = _error("SlowDown", 503, "Please reduce your request rate.")
# tagging
InvalidTag = _error(
    "InvalidTag", 400, "The tag provided was not a valid tag. This error can occur if the tag did not pass input validation."
)
NoSuchTagSet = _error("NoSuchTagSet", 404, "The TagSet does not exist")
NoSuchLifecycleConfiguration = _error("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist")

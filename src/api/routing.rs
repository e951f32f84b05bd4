//! Resources that know their methods: each method a path has is routed, and
//! any other answers 405 with `Allow` naming those it has, as problem+json.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpResponse, Resource, Responder};

use crate::error::ApiError;
use crate::exchange::error::code;

/// A path and its methods; see [`resource`].
pub struct Methods {
    resource: Resource,
    allow: Vec<Method>,
}

/// The resource at `path`, its methods to be added one by one.
pub fn resource(path: &str) -> Methods {
    Methods {
        resource: web::resource(path),
        allow: Vec::new(),
    }
}

impl Methods {
    /// `handler` answers `method`.
    pub fn route<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.allow.push(method);
        self
    }

    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, handler)
    }

    pub fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PUT, handler)
    }

    pub fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PATCH, handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::DELETE, handler)
    }

    pub fn head<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::HEAD, handler)
    }

    pub fn options<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::OPTIONS, handler)
    }
}

impl HttpServiceFactory for Methods {
    fn register(self, config: &mut AppService) {
        let allow = self.allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        self.resource
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move { Err::<HttpResponse, _>(method_not_allowed(allow)) }
            }))
            .register(config)
    }
}

fn method_not_allowed(allow: String) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        format!("this path answers {allow}"),
    )
    .with_header(header::ALLOW, allow)
}

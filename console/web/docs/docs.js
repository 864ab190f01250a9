// The API reference: Swagger UI rendering the openapi.yaml that this
// quotad serves, so the page always describes the running version. The
// validator badge is off: it would send the document to another host.
"use strict";
(function () {
  const target = document.getElementById("reference");
  if (typeof window.SwaggerUIBundle !== "function") {
    target.textContent = "The API reference could not load its renderer. The document itself is at /openapi.yaml.";
    return;
  }
  window.SwaggerUIBundle({
    url: "/openapi.yaml",
    domNode: target,
    validatorUrl: null,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    onComplete: function () { target.dataset.rendered = "true"; },
  });
})();

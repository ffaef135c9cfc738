/* civility API docs: starts Swagger UI (served from this origin) on the OpenAPI document. */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url") || "/openapi.json",
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No call to validator.swagger.io, no configuration from the query string, no token kept.
    validatorUrl: null,
    queryConfigEnabled: false,
    persistAuthorization: false
  });
})();

// Starts Swagger UI on the /docs page (gateway/templates/swagger_ui.html). A file rather than an
// inline script, so that the page's Content-Security-Policy can allow only the gateway itself.
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var container = document.getElementById("swagger-ui-container");
    var config = JSON.parse(container.getAttribute("data-config") || "{}");
    config.url = container.getAttribute("data-spec-url");
    config.dom_id = "#swagger-ui-container";
    if (!("validatorUrl" in config)) {
      config.validatorUrl = null; // never ask validator.swagger.io about the document
    }
    window.ui = SwaggerUIBundle(config);
  });
})();

// Swagger UI over this service's document. validatorUrl null: Swagger UI would otherwise ask an
// outside validator for a badge.
/* global window, SwaggerUIBundle */
window['ui'] = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#docs',
  validatorUrl: null,
  deepLinking: true,
});

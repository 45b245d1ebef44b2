"""CDS Hooks service: discovery, order-select/order-sign/patient-view, feedback."""

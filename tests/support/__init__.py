"""What several test tiers share (a tier never imports another tier's folder): the project copy
(workdir), the bad configs, the Pulumi-mocks harness, the real CLI's project, a real deployment."""

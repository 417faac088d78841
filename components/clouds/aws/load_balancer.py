"""``LoadBalancer``: the public HTTPS entry of an AWS stack (ALB, ACM, optional WAF with its logs)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.edge import RouteLimit, zone_name

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
WAF_MANAGED_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesSQLiRuleSet",
)
# Request headers never written to the WAF's logs: they carry credentials (basic auth, bearer tokens, sessions).
WAF_REDACTED_HEADERS = ("authorization", "cookie")
WAF_LOG_RETENTION_DAYS = 365
# The shortest window AWS WAF counts a rate-based rule over, so a route's limit per minute maps onto it.
WAF_RATE_WINDOW_S = 60


def waf_rate_rule(limit: RouteLimit, priority: int) -> aws.wafv2.WebAclRuleArgs:
    """A rate-based rule for one route: requests to its host from one client IP above ``per_minute + burst`` in
    a minute get 429 until the rate falls. WAF counts over the window with no burst of its own, so the burst the
    gateway allows within a minute is added: the WAF is the outer envelope, the on-VM gateway the exact limit."""
    name = f"rate-{zone_name(limit.fqdn)}"[:128]
    return aws.wafv2.WebAclRuleArgs(
        name=name,
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(
            block=aws.wafv2.WebAclRuleActionBlockArgs(
                custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(response_code=429)
            )
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP",
                limit=limit.per_minute + limit.burst,
                evaluation_window_sec=WAF_RATE_WINDOW_S,
                scope_down_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs(
                    byte_match_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementArgs(
                        positional_constraint="EXACTLY",
                        search_string=limit.fqdn,
                        field_to_match=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchArgs(
                            single_header=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchSingleHeaderArgs(
                                name="host"
                            )
                        ),
                        text_transformations=[
                            aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementTextTransformationArgs(
                                priority=0, type="LOWERCASE"
                            )
                        ],
                    )
                ),
            )
        ),
        visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
        ),
    )


def waf_log_delivery_policy(partition: str, region: str, account_id: str) -> str:
    """The log group resource policy that lets WAF's log delivery write to ``aws-waf-logs-*`` groups of this
    account and region only (the policy AWS documents for WAF logging to CloudWatch Logs)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WafLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "delivery.logs.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:{partition}:logs:{region}:{account_id}:log-group:aws-waf-logs-*:log-stream:*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{region}:{account_id}:*"},
                        "StringEquals": {"aws:SourceAccount": account_id},
                    },
                }
            ],
        }
    )


@dataclass(frozen=True)
class AlbRoute:
    """Host-based routing of ``fqdn`` to a target group."""

    fqdn: str
    target_group_arn: pulumi.Input[str]


class LoadBalancer(pulumi.ComponentResource):
    """An internet-facing Application Load Balancer that speaks only TLS 1.2+.

    Secure defaults: HTTPS listener with ``ELBSecurityPolicy-TLS13-1-2-2021-06``;
    the HTTP listener only redirects to HTTPS (301); unknown hosts get a
    404; invalid header fields dropped; desync mitigation strictest; access
    logs to the stack's log bucket; ``deletion_protection`` when asked; WAFv2 with
    the AWS managed rule groups (common, known bad inputs, IP reputation,
    SQL injection) when ``waf``, logging every request to an ``aws-waf-logs-``
    log group encrypted with the stack key and kept a year, with the
    ``authorization`` and ``cookie`` headers redacted, and a rate-based rule per
    route (``route_limits``: 429 for a client IP above the route's limit); the certificate from ACM
    with DNS validation in the Route 53 zone, or an existing ACM certificate ARN.
    """

    arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    https_listener_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        domain: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        log_bucket: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        account_id: pulumi.Input[str],
        partition: pulumi.Input[str],
        region: str,
        tags: Mapping[str, str],
        deletion_protection: bool,
        certificate_arn: str | None = None,
        hosted_zone_id: str | None = None,
        waf: bool = True,
        route_limits: Sequence[RouteLimit] = (),
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clinical:aws:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(tags)
        self.hosted_zone_id = hosted_zone_id
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest",
            enable_deletion_protection=deletion_protection,
            idle_timeout=600,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=log_bucket, prefix=f"alb/{name}", enabled=True),
            # ELB checks at creation that it may write to the bucket: wait for the bucket's policy.
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )
        cert_arn: pulumi.Input[str]
        cert_arn = certificate_arn or self._acm_certificate(name, domain, hosted_zone_id, tags)
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=cert_arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="text/plain", message_body="not found", status_code="404"
                    ),
                )
            ],
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        port="443", protocol="HTTPS", status_code="HTTP_301"
                    ),
                )
            ],
            tags=tags,
            opts=child,
        )
        if waf:
            acl = self._waf(name, alb, tags, route_limits)
            self._waf_logging(name, acl, kms_key_arn, account_id, partition, region, tags)
        self.arn, self.dns_name, self.https_listener_arn = alb.arn, alb.dns_name, https.arn
        self._zone_id = alb.zone_id
        self._priority = 0
        self.register_outputs({"dnsName": alb.dns_name})

    def _acm_certificate(self, name: str, domain: str, zone_id: str | None, tags: dict[str, str]) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=domain,
            subject_alternative_names=[f"*.{domain}"],
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        if zone_id is None:  # validated out of band (the DNS records are exported)
            return cert.arn
        # The apex and the wildcard share one validation record.
        record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=zone_id,
            allow_overwrite=True,
            ttl=300,
            name=cert.domain_validation_options[0].resource_record_name,
            type=cert.domain_validation_options[0].resource_record_type,
            records=[cert.domain_validation_options[0].resource_record_value],
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-cert-validated", certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn], opts=child
        )
        return validation.certificate_arn

    def _waf(
        self, name: str, alb: aws.lb.LoadBalancer, tags: dict[str, str], route_limits: Sequence[RouteLimit]
    ) -> aws.wafv2.WebAcl:
        child = pulumi.ResourceOptions(parent=self)
        rules = [
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=index,
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        name=group, vendor_name="AWS"
                    )
                ),
                visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                    cloudwatch_metrics_enabled=True, metric_name=group, sampled_requests_enabled=True
                ),
            )
            for index, group in enumerate(WAF_MANAGED_GROUPS)
        ]
        first = len(WAF_MANAGED_GROUPS)
        rules += [
            waf_rate_rule(limit, first + index)
            for index, limit in enumerate(sorted(route_limits, key=lambda r: r.fqdn))
        ]
        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-waf", sampled_requests_enabled=True
            ),
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclAssociation(f"{name}-waf-association", resource_arn=alb.arn, web_acl_arn=acl.arn, opts=child)
        return acl

    def _waf_logging(
        self,
        name: str,
        acl: aws.wafv2.WebAcl,
        kms_key_arn: pulumi.Input[str],
        account_id: pulumi.Input[str],
        partition: pulumi.Input[str],
        region: str,
        tags: dict[str, str],
    ) -> None:
        """Every request the WAF sees, logged (WAF requires the ``aws-waf-logs-`` name), without credentials."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=f"aws-waf-logs-clinical-{name}",
            retention_in_days=WAF_LOG_RETENTION_DAYS,
            kms_key_id=kms_key_arn,
            tags=tags,
            opts=child,
        )
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{name}-waf-log-delivery",
            policy_name=f"clinical-{name}-waf-log-delivery",
            policy_document=pulumi.Output.all(partition, account_id).apply(
                lambda v: waf_log_delivery_policy(str(v[0]), region, str(v[1]))
            ),
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in WAF_REDACTED_HEADERS
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )

    def route(self, name: str, route: AlbRoute) -> None:
        """Forward requests for ``route.fqdn`` to its target group, and point DNS at the ALB."""
        self._priority += 1
        child = pulumi.ResourceOptions(parent=self)
        aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=self.https_listener_arn,
            priority=self._priority,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=[route.fqdn])
                )
            ],
            actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=route.target_group_arn)],
            opts=child,
        )
        if self.hosted_zone_id:
            aws.route53.Record(
                f"{name}-dns",
                zone_id=self.hosted_zone_id,
                name=route.fqdn,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(name=self.dns_name, zone_id=self._zone_id, evaluate_target_health=True)
                ],
                opts=child,
            )

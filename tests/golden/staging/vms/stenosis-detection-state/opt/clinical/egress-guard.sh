#!/bin/bash
# Containers on the compose project's private network (100.64.0.0/24) reach private addresses only (the VPC's
# data stores; the security group or firewall narrows them further), DNS, and answer connections made to them.
# Only services with egress (and bucket users) are also on the routable egress network.
set -euo pipefail
iptables -N CLINICAL-PRIVATE 2>/dev/null || iptables -F CLINICAL-PRIVATE
iptables -A CLINICAL-PRIVATE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
iptables -A CLINICAL-PRIVATE -d 10.0.0.0/8 -j RETURN
iptables -A CLINICAL-PRIVATE -d 172.16.0.0/12 -j RETURN
iptables -A CLINICAL-PRIVATE -d 192.168.0.0/16 -j RETURN
iptables -A CLINICAL-PRIVATE -d 100.64.0.0/24 -j RETURN
iptables -A CLINICAL-PRIVATE -p udp --dport 53 -j RETURN
iptables -A CLINICAL-PRIVATE -p tcp --dport 53 -j RETURN
iptables -A CLINICAL-PRIVATE -j REJECT --reject-with icmp-net-prohibited
iptables -C DOCKER-USER -s 100.64.0.0/24 -j CLINICAL-PRIVATE 2>/dev/null || iptables -I DOCKER-USER -s 100.64.0.0/24 -j CLINICAL-PRIVATE

// Telescopic fully differential OTA with external bias voltages.
// The tail is split: a fixed part (VBN) and a part set by the CMFB loop.
// CMFB: the outputs are level-shifted by NMOS source followers, averaged by two
// resistors, and compared with a follower-shifted VCM by a five-transistor amplifier.
subckt tele_sf VIP VIN VOP VON VCM VBN VBP VCN VCP VDD VSS
M1 (xm VIP tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
M2 (xp VIN tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
M3 (VON VCN xm VSS) nch l=0.2u w=16u m=1 nf=8
M4 (VOP VCN xp VSS) nch l=0.2u w=16u m=1 nf=8
M5 (VON VCP ym VDD) pch l=0.2u w=24u m=1 nf=8
M6 (VOP VCP yp VDD) pch l=0.2u w=24u m=1 nf=8
M7 (ym VBP VDD VDD) pch l=0.5u w=24u m=1 nf=8
M8 (yp VBP VDD VDD) pch l=0.5u w=24u m=1 nf=8
M9A (tail VBN VSS VSS) nch l=0.5u w=16u m=1 nf=8
M9B (tail vcmfb VSS VSS) nch l=0.5u w=8u m=1 nf=4
M20 (VDD VOP sfp VSS) nch l=0.2u w=4u m=1 nf=2
M21 (VDD VON sfn VSS) nch l=0.2u w=4u m=1 nf=2
M22 (sfp VBN VSS VSS) nch l=0.5u w=2u m=1 nf=1
M23 (sfn VBN VSS VSS) nch l=0.5u w=2u m=1 nf=1
R1 (sfp cms) rppolywo l=30u w=1u
R2 (sfn cms) rppolywo l=30u w=1u
M28 (VDD VCM sfr VSS) nch l=0.2u w=4u m=1 nf=2
M29 (sfr VBN VSS VSS) nch l=0.5u w=2u m=1 nf=1
M24 (cd cms ct VSS) nch l=0.5u w=4u m=1 nf=2
M25 (vcmfb sfr ct VSS) nch l=0.5u w=4u m=1 nf=2
M26 (ct VBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
M27A (cd cd VDD VDD) pch l=0.5u w=4u m=1 nf=2
M27 (vcmfb cd VDD VDD) pch l=0.5u w=4u m=1 nf=2
ends tele_sf

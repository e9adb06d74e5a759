// Three-stage fully differential nested-Miller OTA (like the paper's OTA1/OTA2).
// Stage 1: telescopic cascode, NMOS input pair, PMOS loads driven by the CMFB loop.
// Stage 2: PMOS common-source stages, NMOS current sources.
// Stage 3: NMOS common-source output stages, PMOS current sources.
// Nested Miller: outer caps cross-coupled from the outputs to stage-1 outputs (sign),
// inner caps from the outputs to stage-2 outputs.
// CMFB: resistive output CM sense, PMOS-pair amplifier, mirrored onto the stage-1 loads.
// Bias: reference current into IBN, diode-connected generators for vbp, vcn, vcp.
subckt nmc3_tele VINP VINN VOUTP VOUTN VCM IBN VDD VSS
M1 (x1m VINP tail VSS) nch_lvt l=0.2u w=30u m=1 nf=10
M2 (x1p VINN tail VSS) nch_lvt l=0.2u w=30u m=1 nf=10
M3 (o1m vcn x1m VSS) nch l=0.2u w=20u m=1 nf=10
M4 (o1p vcn x1p VSS) nch l=0.2u w=20u m=1 nf=10
M5 (o1m vcp y1m VDD) pch l=0.2u w=30u m=1 nf=10
M6 (o1p vcp y1p VDD) pch l=0.2u w=30u m=1 nf=10
M7 (y1m vcmfb VDD VDD) pch l=0.5u w=30u m=1 nf=10
M8 (y1p vcmfb VDD VDD) pch l=0.5u w=30u m=1 nf=10
M9 (tail IBN VSS VSS) nch l=0.5u w=20u m=2 nf=10
M10 (o2m o1m VDD VDD) pch l=0.2u w=20u m=1 nf=10
M11 (o2p o1p VDD VDD) pch l=0.2u w=20u m=1 nf=10
M12 (o2m IBN VSS VSS) nch l=0.5u w=10u m=1 nf=5
M13 (o2p IBN VSS VSS) nch l=0.5u w=10u m=1 nf=5
M14 (VOUTP o2m VSS VSS) nch l=0.2u w=40u m=2 nf=10
M15 (VOUTN o2p VSS VSS) nch l=0.2u w=40u m=2 nf=10
M16 (VOUTP vbp VDD VDD) pch l=0.5u w=60u m=2 nf=10
M17 (VOUTN vbp VDD VDD) pch l=0.5u w=60u m=2 nf=10
CM1A (o1p VOUTP) cfmom_2t nr=60 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CM1B (o1m VOUTN) cfmom_2t nr=60 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CM2A (o2m VOUTP) cfmom_2t nr=20 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CM2B (o2p VOUTN) cfmom_2t nr=20 lr=10u w=70n s=70n stm=3 spm=6 multi=1
RS1 (VOUTP vcms VSS) poly_res l=30u w=1u
RS2 (VOUTN vcms VSS) poly_res l=30u w=1u
M20 (cx vcms ctp VDD) pch l=0.5u w=6u m=1 nf=2
M21 (cy VCM ctp VDD) pch l=0.5u w=6u m=1 nf=2
M22 (ctp vbp VDD VDD) pch l=0.5u w=12u m=1 nf=4
M23 (cx cx VSS VSS) nch l=0.5u w=3u m=1 nf=2
M24 (cy cy VSS VSS) nch l=0.5u w=3u m=1 nf=2
M25 (vcmfb cx VSS VSS) nch l=0.5u w=3u m=1 nf=2
M26 (vcmfb vcmfb VDD VDD) pch l=0.5u w=6u m=1 nf=2
M30 (IBN IBN VSS VSS) nch l=0.5u w=10u m=1 nf=5
M31 (vbp IBN VSS VSS) nch l=0.5u w=10u m=1 nf=5
M32 (vbp vbp VDD VDD) pch l=0.5u w=20u m=1 nf=5
M33 (vcn vbp VDD VDD) pch l=0.5u w=5u m=1 nf=2
M34 (vcn vcn VSS VSS) nch l=2u w=2u m=1 nf=1
M35 (vcp IBN VSS VSS) nch l=0.5u w=5u m=1 nf=2
M36 (vcp vcp VDD VDD) pch l=2u w=4u m=1 nf=1
ends nmc3_tele
